// The CLI's commands against one node and their text and JSON output.
#include "cli/node_commands.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/json.h"

namespace gossipkv::cli {

int Put(const Options& o, const std::string& key, const std::string& value) {
  RespValue reply;
  if (int rc = Run(o, {"SET", key, value}, reply); rc != kOk) return rc;
  if (o.json) {
    Json j;
    SetBytes(j, "key", key);
    j["ok"] = true;
    PrintJson(j);
  } else {
    std::printf("OK\n");
  }
  return kOk;
}

int Get(const Options& o, const std::string& key) {
  RespValue reply;
  if (int rc = Run(o, {"GET", key}, reply); rc != kOk) return rc;
  if (o.json) {
    Json j;
    SetBytes(j, "key", key);
    j["found"] = !reply.is_null();
    if (!reply.is_null()) SetBytes(j, "value", reply.text);
    PrintJson(j);
    return reply.is_null() ? kNotFound : kOk;
  }
  if (reply.is_null()) {
    std::fprintf(stderr, "(not found)\n");
    return kNotFound;
  }
  std::fwrite(reply.text.data(), 1, reply.text.size(), stdout);
  std::printf("\n");
  return kOk;
}

int GetAll(const Options& o, const std::string& key) {
  RespValue reply;
  if (int rc = Run(o, {"VGET", key}, reply); rc != kOk) return rc;
  if (reply.elements.size() != 2)
    return Error("unexpected VGET reply: " + reply.ToString());
  const std::string& context = reply.elements[0].text;
  const auto& siblings = reply.elements[1].elements;
  if (o.json) {
    Json j;
    SetBytes(j, "key", key);
    SetBytes(j, "context", context);
    j["siblings"] = Json::array();
    for (const auto& sibling : siblings) {
      const auto& s = sibling.elements;
      if (s.size() != 3)
        return Error("unexpected VGET sibling: " + sibling.ToString());
      Json one;
      one["deleted"] = s[0].is_null();
      if (!s[0].is_null()) SetBytes(one, "value", s[0].text);
      SetBytes(one, "dot", s[1].text);
      one["timestamp_ms"] = s[2].integer;
      j["siblings"].push_back(std::move(one));
    }
    PrintJson(j);
  } else {
    for (const auto& sibling : siblings) {
      const auto& s = sibling.elements;
      if (s.size() != 3)
        return Error("unexpected VGET sibling: " + sibling.ToString());
      std::printf("%s\t(dot %s, timestamp %lld)\n",
                  s[0].is_null() ? "<deleted>" : s[0].ToString().c_str(),
                  s[1].text.c_str(), static_cast<long long>(s[2].integer));
    }
    std::printf("context: %s\n", context.empty() ? "(empty)" : context.c_str());
  }
  return siblings.empty() ? kNotFound : kOk;
}

int Del(const Options& o, const std::string& key) {
  RespValue reply;
  if (int rc = Run(o, {"DEL", key}, reply); rc != kOk) return rc;
  if (o.json) {
    Json j;
    SetBytes(j, "key", key);
    j["deleted"] = reply.integer > 0;
    PrintJson(j);
  } else {
    std::printf("%s\n", reply.integer > 0 ? "deleted" : "(not found)");
  }
  return reply.integer > 0 ? kOk : kNotFound;
}

int Members(const Options& o) {
  RespValue reply;
  if (int rc = Run(o, {"MEMBERS"}, reply); rc != kOk) return rc;
  Json json = Json::array();
  if (!o.json) {
    std::printf("%-12s %-22s %-22s %-8s %10s %7s\n", "ID", "PEER", "CLIENT",
                "STATUS", "HEARTBEAT", "PHI");
  }
  for (const auto& row : reply.elements) {
    const auto& f = row.elements;
    if (f.size() != 6)
      return Error("unexpected MEMBERS row: " + row.ToString());
    if (o.json) {
      Json member;
      SetBytes(member, "id", f[0].text);
      SetBytes(member, "peer", f[1].text);
      SetBytes(member, "client", f[2].text);
      SetBytes(member, "status", f[3].text);
      member["heartbeat_age_ms"] = f[4].integer;
      try {
        member["phi"] = std::stod(f[5].text);
      } catch (const std::exception&) {
        SetBytes(member, "phi", f[5].text);
      }
      json.push_back(std::move(member));
    } else {
      std::printf("%-12s %-22s %-22s %-8s %8lldms %7s\n", f[0].text.c_str(),
                  f[1].text.c_str(), f[2].text.c_str(), f[3].text.c_str(),
                  static_cast<long long>(f[4].integer), f[5].text.c_str());
    }
  }
  if (o.json) PrintJson(json);
  return kOk;
}

int Digest(const Options& o) {
  RespValue reply;
  if (int rc = Run(o, {"DIGEST"}, reply); rc != kOk) return rc;
  if (reply.elements.size() != 3)
    return Error("unexpected DIGEST reply: " + reply.ToString());
  const auto& root = reply.elements[0].text;
  if (o.json) {
    Json j;
    SetBytes(j, "root", root);
    j["keys"] = reply.elements[1].integer;
    j["live_keys"] = reply.elements[2].integer;
    PrintJson(j);
  } else {
    std::printf("root %s  keys %lld (live %lld)\n", root.c_str(),
                static_cast<long long>(reply.elements[1].integer),
                static_cast<long long>(reply.elements[2].integer));
  }
  return kOk;
}

int Replicas(const Options& o, const std::string& key) {
  RespValue reply;
  if (int rc = Run(o, {"REPLICAS", key}, reply); rc != kOk) return rc;
  Json json = Json::array();
  for (const auto& id : reply.elements) {
    if (o.json) {
      json.push_back(Json{});
      SetBytes(json.back(), "id", id.text);
    } else {
      std::printf("%s\n", id.text.c_str());
    }
  }
  if (o.json) PrintJson(json);
  return kOk;
}

int Ring(const Options& o) {
  RespValue reply;
  if (int rc = Run(o, {"CLUSTER", "RING"}, reply); rc != kOk) return rc;
  // Lines of "id count ranges".
  Json json = Json::array();
  if (!o.json) std::printf("%-12s %10s  %s\n", "ID", "PARTITIONS", "RANGES");
  size_t start = 0;
  while (start < reply.text.size()) {
    size_t end = reply.text.find('\n', start);
    if (end == std::string::npos) end = reply.text.size();
    const std::string line = reply.text.substr(start, end - start);
    start = end + 1;
    const size_t a = line.find(' '), b = line.find(' ', a + 1);
    if (a == std::string::npos || b == std::string::npos)
      return Error("unexpected CLUSTER RING line: " + line);
    const std::string id = line.substr(0, a);
    const std::string count = line.substr(a + 1, b - a - 1);
    const std::string ranges = line.substr(b + 1);
    if (o.json) {
      Json member;
      SetBytes(member, "id", id);
      member["partitions"] = std::strtoll(count.c_str(), nullptr, 10);
      SetBytes(member, "ranges", ranges);
      json.push_back(std::move(member));
    } else {
      std::printf("%-12s %10s  %s\n", id.c_str(), count.c_str(),
                  ranges.c_str());
    }
  }
  if (o.json) PrintJson(json);
  return kOk;
}

int Info(const Options& o, const std::string& section) {
  RespValue reply;
  std::vector<std::string> args{"INFO"};
  if (!section.empty()) args.push_back(section);
  if (int rc = Run(o, args, reply); rc != kOk) return rc;
  if (!o.json) {
    std::fwrite(reply.text.data(), 1, reply.text.size(), stdout);
    return kOk;
  }
  // "# Section" headers and "key:value" lines become nested objects.
  Json out = Json::object();
  std::string current;
  size_t start = 0;
  while (start < reply.text.size()) {
    size_t end = reply.text.find("\r\n", start);
    if (end == std::string::npos) end = reply.text.size();
    std::string_view line(reply.text.data() + start, end - start);
    start = end + 2;
    if (line.empty()) continue;
    if (line[0] == '#') {
      current = std::string(line.substr(2));
      for (auto& c : current) c = static_cast<char>(std::tolower(c));
      out[current] = Json::object();
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    SetBytes(current.empty() ? out : out[current],
             std::string(line.substr(0, colon)), line.substr(colon + 1));
  }
  PrintJson(out);
  return kOk;
}

}  // namespace gossipkv::cli
