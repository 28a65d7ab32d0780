// Text (crash's layout) and JSON for vtop, ptov, ptob, btop and rd.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/commands/memory_commands.h"

namespace coroner {

// crash's x86_64 PTE flag names: "PRESENT|RW|USER|ACCESSED|DIRTY|NX" (bit 7 is PSE in a huge
// page's entry, PAT in a 4 KiB PTE).
std::string PteFlags(uint64_t entry, bool leaf_is_huge);
std::string RenderVtopText(const std::vector<VtopResult>& r);
nlohmann::ordered_json RenderVtopJson(const std::vector<VtopResult>& r);
std::string RenderPtovText(const std::vector<PtovResult>& r);
nlohmann::ordered_json RenderPtovJson(const std::vector<PtovResult>& r);
std::string RenderPageConvText(const std::vector<PageConvResult>& r);
nlohmann::ordered_json RenderPageConvJson(const std::vector<PageConvResult>& r, const char* in_name,
                                          const char* out_name);
std::string RenderRdText(const RdResult& r);
nlohmann::ordered_json RenderRdJson(const RdResult& r);

}  // namespace coroner
