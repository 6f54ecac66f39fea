// The CLI's commands against one node and their text and JSON output.
#include "cli/node_commands.h"

#include <cctype>
#include <cstdio>
#include <string_view>

#include "cli/json.h"

namespace gossipkv::cli {

int Put(const Options& o, const std::string& key, const std::string& value) {
  RespValue reply;
  if (int rc = Run(o, {"SET", key, value}, reply); rc != kOk) return rc;
  if (o.json) {
    std::printf("{\"key\":%s,\"ok\":true}\n", JsonString(key).c_str());
  } else {
    std::printf("OK\n");
  }
  return kOk;
}

int Get(const Options& o, const std::string& key) {
  RespValue reply;
  if (int rc = Run(o, {"GET", key}, reply); rc != kOk) return rc;
  if (reply.is_null()) {
    if (o.json)
      std::printf("{\"key\":%s,\"found\":false}\n", JsonString(key).c_str());
    else
      std::fprintf(stderr, "(not found)\n");
    return kNotFound;
  }
  if (o.json) {
    std::printf("{\"key\":%s,\"found\":true,\"value\":%s}\n",
                JsonString(key).c_str(), JsonString(reply.text).c_str());
  } else {
    std::fwrite(reply.text.data(), 1, reply.text.size(), stdout);
    std::printf("\n");
  }
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
    std::string out = "{\"key\":" + JsonString(key) +
                      ",\"context\":" + JsonString(context) + ",\"siblings\":[";
    for (size_t i = 0; i < siblings.size(); ++i) {
      const auto& s = siblings[i].elements;
      if (s.size() != 3)
        return Error("unexpected VGET sibling: " + siblings[i].ToString());
      if (i > 0) out += ",";
      out += "{\"deleted\":" + std::string(s[0].is_null() ? "true" : "false");
      if (!s[0].is_null()) out += ",\"value\":" + JsonString(s[0].text);
      out += ",\"dot\":" + JsonString(s[1].text) +
             ",\"timestamp_ms\":" + std::to_string(s[2].integer) + "}";
    }
    std::printf("%s]}\n", out.c_str());
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
    std::printf("{\"key\":%s,\"deleted\":%s}\n", JsonString(key).c_str(),
                reply.integer > 0 ? "true" : "false");
  } else {
    std::printf("%s\n", reply.integer > 0 ? "deleted" : "(not found)");
  }
  return reply.integer > 0 ? kOk : kNotFound;
}

int Members(const Options& o) {
  RespValue reply;
  if (int rc = Run(o, {"MEMBERS"}, reply); rc != kOk) return rc;
  std::string json = "[";
  if (!o.json) {
    std::printf("%-12s %-22s %-22s %-8s %10s %7s\n", "ID", "PEER", "CLIENT",
                "STATUS", "HEARTBEAT", "PHI");
  }
  for (const auto& row : reply.elements) {
    const auto& f = row.elements;
    if (f.size() != 6)
      return Error("unexpected MEMBERS row: " + row.ToString());
    if (o.json) {
      if (json.size() > 1) json += ",";
      json += "{\"id\":" + JsonString(f[0].text) +
              ",\"peer\":" + JsonString(f[1].text) +
              ",\"client\":" + JsonString(f[2].text) +
              ",\"status\":" + JsonString(f[3].text) +
              ",\"heartbeat_age_ms\":" + std::to_string(f[4].integer) +
              ",\"phi\":" + f[5].text + "}";
    } else {
      std::printf("%-12s %-22s %-22s %-8s %8lldms %7s\n", f[0].text.c_str(),
                  f[1].text.c_str(), f[2].text.c_str(), f[3].text.c_str(),
                  static_cast<long long>(f[4].integer), f[5].text.c_str());
    }
  }
  if (o.json) std::printf("%s]\n", json.c_str());
  return kOk;
}

int Digest(const Options& o) {
  RespValue reply;
  if (int rc = Run(o, {"DIGEST"}, reply); rc != kOk) return rc;
  if (reply.elements.size() != 3)
    return Error("unexpected DIGEST reply: " + reply.ToString());
  const auto& root = reply.elements[0].text;
  if (o.json) {
    std::printf("{\"root\":%s,\"keys\":%lld,\"live_keys\":%lld}\n",
                JsonString(root).c_str(),
                static_cast<long long>(reply.elements[1].integer),
                static_cast<long long>(reply.elements[2].integer));
  } else {
    std::printf("root %s  keys %lld (live %lld)\n", root.c_str(),
                static_cast<long long>(reply.elements[1].integer),
                static_cast<long long>(reply.elements[2].integer));
  }
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
  std::string out = "{", current;
  size_t start = 0;
  while (start < reply.text.size()) {
    size_t end = reply.text.find("\r\n", start);
    if (end == std::string::npos) end = reply.text.size();
    std::string_view line(reply.text.data() + start, end - start);
    start = end + 2;
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (!current.empty()) out += "},";
      current = std::string(line.substr(2));
      for (auto& c : current) c = static_cast<char>(std::tolower(c));
      out += JsonString(current) + ":{";
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (out.back() != '{') out += ",";
    out += JsonString(line.substr(0, colon)) + ":" +
           JsonString(line.substr(colon + 1));
  }
  if (!current.empty()) out += "}";
  std::printf("%s}\n", out.c_str());
  return kOk;
}

}  // namespace gossipkv::cli
