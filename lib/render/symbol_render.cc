#include "lib/render/symbol_render.h"

#include <algorithm>

#include <fmt/format.h>

namespace coroner {

std::string RenderSymText(const SymResult& r) {
  std::string out;
  for (const SymLine& l : r.lines) {
    out += fmt::format("{:016x} ({}) {}", l.address, l.type, l.name);
    if (l.offset) out += fmt::format("+{}", l.offset);
    if (!l.module.empty()) out += fmt::format(" [{}]", l.module);
    if (!l.source.empty()) out += " " + l.source;
    out += "\n";
  }
  return out;
}

nlohmann::ordered_json RenderSymJson(const SymResult& r) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const SymLine& l : r.lines) {
    arr.push_back({{"address", fmt::format("{:#x}", l.address)},
                   {"type", std::string(1, l.type)},
                   {"name", l.name},
                   {"offset", l.offset},
                   {"module", l.module.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(l.module)}});
    if (!l.source.empty()) arr.back()["source"] = l.source;
  }
  return arr;
}

namespace {

// The member a layout line declares, as crash finds it: "    char comm[16];" -> comm,
// "    void (*fn)(int);" -> fn, "    unsigned int x : 3;" -> x, "    } name;" -> name.
std::string DeclaredName(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty() || line.back() != ';') return {};
  line.remove_suffix(1);
  if (auto fn = line.find("(*"); fn != std::string_view::npos) {
    auto close = line.find(')', fn);
    return close == std::string_view::npos ? std::string() : std::string(line.substr(fn + 2, close - fn - 2));
  }
  if (auto colon = line.rfind(" : "); colon != std::string_view::npos) line = line.substr(0, colon);
  auto space = line.find_last_of(" *");
  std::string_view word = space == std::string_view::npos ? line : line.substr(space + 1);
  return std::string(word.substr(0, word.find('[')));
}

// crash's `struct NAME.member` layout: the lines of the -o layout that declare the members.
// For a named anonymous aggregate only its closing line, after the kind of its opening one.
std::string MemberLayout(const std::string& layout, const std::vector<std::string>& members) {
  std::vector<std::string_view> lines;
  std::string_view rest = layout;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl == std::string_view::npos ? rest.size() : nl + 1));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  if (lines.size() < 3) return layout;
  std::string out(lines[0]);
  // The opening lines of the anonymous aggregates around each line.
  std::vector<std::string_view> open;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.rfind("}", 0) == 0) break;  // the layout's own closing brace
    std::string_view body = l.substr(l.find_first_not_of(" "));
    bool opener = body.rfind("struct {", 0) == 0 || body.rfind("union {", 0) == 0;
    bool closer = body.rfind("}", 0) == 0;
    if (opener) {
      open.push_back(body);
      continue;
    }
    std::string name = DeclaredName(l);
    if (!name.empty() && std::find(members.begin(), members.end(), name) != members.end()) {
      if (closer && !open.empty()) {
        size_t col = l.find('[');
        out += std::string(col == std::string_view::npos ? 0 : col + 1, ' ') + std::string(open.back().substr(0, open.back().find('{') + 1)) + "\n";
      }
      out += std::string(l);
    }
    if (closer && !open.empty()) open.pop_back();
  }
  return out + "}\n";
}

}  // namespace

std::string RenderStructText(const StructResult& r) {
  if (!r.symbol.empty()) return r.types->Declaration(r.id, r.symbol) + ";\n";
  TypeTable::LayoutOptions lo{r.offsets || !r.members.empty(), std::nullopt, r.hex};
  if (!r.has_address) {
    if (r.members.empty()) return (r.notice.empty() ? "" : r.notice + "\n") + r.types->Layout(r.id, lo);
    return MemberLayout(r.types->Layout(r.id, lo), r.members);
  }
  std::string out;
  const std::string prefix = r.kind + " " + r.types->Get(r.id).name + " ";
  for (size_t i = 0; i < r.instances.size(); ++i) {
    const StructInstance& inst = r.instances[i];
    if (i && !inst.cpu) out += "\n";
    if (inst.cpu) out += fmt::format("[{}]: {:x}\n", *inst.cpu, inst.address);
    if (r.offsets) {
      lo.offsets = true;
      lo.address = inst.address;
      std::string layout = r.types->Layout(r.id, lo);
      out += r.members.empty() ? layout : MemberLayout(layout, r.members);
    } else if (inst.value) {
      out += prefix + *inst.value + "\n";
    } else {
      for (const StructMemberValue& m : inst.members) {
        out += fmt::format("{}{} = {}{}\n", std::string(static_cast<size_t>(m.indent), ' '), m.spec, m.value,
                           m.comma ? "," : "");
      }
    }
  }
  return out;
}

namespace {

void MembersJson(const TypeTable& types, const Type& t, uint64_t base_bits, nlohmann::ordered_json& out) {
  for (const TypeMember& m : t.members) {
    const Type& mt = types.Get(m.type);
    uint64_t bits = base_bits + m.bit_offset;
    nlohmann::ordered_json j;
    j["name"] = m.name;
    j["offset"] = bits / 8;
    if (m.bit_size) {
      j["bit_offset"] = bits;
      j["bit_size"] = m.bit_size;
    }
    if ((mt.kind == TypeKind::kStruct || mt.kind == TypeKind::kUnion) && mt.name.empty()) {
      j["type"] = mt.kind == TypeKind::kStruct ? "struct" : "union";
      nlohmann::ordered_json inner = nlohmann::ordered_json::array();
      MembersJson(types, mt, bits, inner);
      j["members"] = inner;
    } else {
      j["type"] = types.Name(m.type);
      auto size = types.SizeOf(m.type);
      j["size"] = size ? nlohmann::ordered_json(*size) : nlohmann::ordered_json(nullptr);
    }
    out.push_back(j);
  }
}

}  // namespace

nlohmann::ordered_json RenderStructJson(const StructResult& r) {
  const Type& t = r.types->Get(r.id);
  nlohmann::ordered_json j;
  if (r.has_address) {
    j["name"] = r.types->Name(r.id);
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const StructInstance& inst : r.instances) {
      nlohmann::ordered_json e;
      e["address"] = fmt::format("{:#x}", inst.address);
      if (inst.cpu) e["cpu"] = *inst.cpu;
      if (inst.value) e["value"] = *inst.value;
      if (!inst.members.empty()) {
        nlohmann::ordered_json mem = nlohmann::ordered_json::object();
        for (const StructMemberValue& m : inst.members) mem[m.spec] = m.value;
        e["members"] = mem;
      }
      arr.push_back(e);
    }
    j["instances"] = arr;
    return j;
  }
  if (!r.symbol.empty()) {
    j["symbol"] = r.symbol;
    j["type"] = r.types->Name(r.id);
    j["declaration"] = r.types->Declaration(r.id, r.symbol);
    return j;
  }
  j["name"] = r.types->Name(r.id);
  auto size = r.types->SizeOf(r.id);
  j["size"] = size ? nlohmann::ordered_json(*size) : nlohmann::ordered_json(nullptr);
  if (t.kind == TypeKind::kStruct || t.kind == TypeKind::kUnion) {
    nlohmann::ordered_json members = nlohmann::ordered_json::array();
    MembersJson(*r.types, t, 0, members);
    j["members"] = members;
  } else {
    j["definition"] = r.types->Layout(r.id, false);
  }
  return j;
}

std::string RenderPrintText(const PrintOutput& r) {
  std::string out;
  if (r.percpu) {
    out += fmt::format("PER-CPU DATA TYPE:\n  {};\nPER-CPU ADDRESSES:\n", r.percpu->declaration);
    for (size_t c = 0; c < r.percpu->addresses.size(); ++c) out += fmt::format("  [{}]: {:x}\n", c, r.percpu->addresses[c]);
  }
  for (const PrintResult& v : r.values) {
    // crash names a bare global (or per_cpu(NAME, CPU)) before gdb's "$N = ", and (its quirk)
    // starts an array's value on the next line.
    std::string lead = v.bare_symbol ? v.expression + " = " : std::string();
    bool array = v.bare_symbol && !v.text.empty() && v.text[0] == '{' && v.type.find('[') != std::string::npos;
    out += lead + fmt::format("${} = {}{}\n", v.number, array ? "\n " : "", v.text);
  }
  return out;
}

nlohmann::ordered_json RenderPrintJson(const PrintOutput& r) {
  using json = nlohmann::ordered_json;
  auto value = [](const PrintResult& v) {
    json j;
    j["expression"] = v.expression;
    j["type"] = v.type;
    j["address"] = v.address ? json(fmt::format("{:#x}", *v.address)) : json(nullptr);
    j["value"] = v.text;
    return j;
  };
  if (r.percpu) {
    json addrs = json::array();
    for (uint64_t a : r.percpu->addresses) addrs.push_back(fmt::format("{:#x}", a));
    return {{"percpu_declaration", r.percpu->declaration}, {"percpu_addresses", addrs}};
  }
  if (r.values.size() == 1 && r.values[0].expression.rfind("per_cpu(", 0) != 0) return value(r.values[0]);
  json values = json::array();
  for (const PrintResult& v : r.values) values.push_back(value(v));
  return {{"values", values}};
}

std::string RenderWalkText(const WalkResult& r) {
  std::string out;
  for (const WalkEntry& e : r.entries) {
    out += fmt::format("{:x}\n", e.address);
    if (!e.position.empty()) out += fmt::format("  {}\n", e.position);
    if (e.value) out += fmt::format("struct {} {}\n", r.struct_name, *e.value);
    for (const auto& [m, v] : e.members) out += fmt::format("  {} = {},\n", m, v);
  }
  return out;
}

nlohmann::ordered_json RenderWalkJson(const WalkResult& r) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const WalkEntry& e : r.entries) {
    nlohmann::ordered_json je;
    je["address"] = fmt::format("{:#x}", e.address);
    if (!e.position.empty()) je["position"] = e.position;
    if (e.value) je["value"] = *e.value;
    for (const auto& [m, v] : e.members) je[m] = v;
    arr.push_back(je);
  }
  return arr;
}

}  // namespace coroner
