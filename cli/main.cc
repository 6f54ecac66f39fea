// gossipkv: the command-line client. Talks to a node over the client
// protocol only (it never links the server).
//
//   gossipkv put KEY VALUE        gossipkv get KEY [--all]
//   gossipkv del KEY              gossipkv info [SECTION]
//   gossipkv members              gossipkv digest
//
// --host/--port or --node host:port pick the node (default 127.0.0.1:7379);
// --json prints machine-readable output. Exit codes: 0 found/ok, 1 not
// found, 2 error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/json.h"
#include "cli/resp_client.h"
#include "config/config.h"

namespace gossipkv {
namespace {

constexpr int kOk = 0, kNotFound = 1, kError = 2;

struct Options {
  std::string host = "127.0.0.1";
  int port = 7379;
  std::string node;
  bool json = false;
};

int Error(const std::string& message) {
  std::fprintf(stderr, "gossipkv: %s\n", message.c_str());
  return kError;
}

Result<std::unique_ptr<RespClient>> ConnectTo(const Options& o) {
  std::string host = o.host;
  int port = o.port;
  if (!o.node.empty()) {
    auto endpoint = ParseEndpoint(o.node);
    if (!endpoint)
      return Status::InvalidArgument("--node: " + endpoint.error().message());
    host = endpoint->host;
    port = endpoint->port;
  }
  return RespClient::Connect(host, static_cast<uint16_t>(port));
}

// Runs one command; prints errors itself. Null result pointer on failure.
int Run(const Options& o, const std::vector<std::string>& args,
        RespValue& reply) {
  auto client = ConnectTo(o);
  if (!client) return Error(client.error().message());
  auto result = (*client)->Call(args);
  if (!result) return Error(result.error().message());
  reply = std::move(*result);
  if (reply.is_error()) return Error(reply.text);
  return kOk;
}

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

}  // namespace
}  // namespace gossipkv

int main(int argc, char** argv) {
  using namespace gossipkv;
  CLI::App app{"gossipkv: command-line client for a gossipkv node"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand too
  Options o;
  app.add_option("--host", o.host, "node address (default 127.0.0.1)");
  app.add_option("-p,--port", o.port, "node client port (default 7379)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--node", o.node,
                 "node as host:port (overrides --host/--port)");
  app.add_flag("--json", o.json, "machine-readable output");

  std::string key, value, section;
  bool all = false;
  auto* put = app.add_subcommand("put", "store VALUE under KEY");
  put->add_option("key", key)->required();
  put->add_option("value", value)->required();
  auto* get = app.add_subcommand("get", "print the value of KEY");
  get->add_option("key", key)->required();
  get->add_flag(
      "-a,--all", all,
      "print every sibling with its dot and timestamp, and the context");
  auto* del = app.add_subcommand("del", "delete KEY");
  del->add_option("key", key)->required();
  auto* members = app.add_subcommand(
      "members", "list the cluster's members as this node sees them");
  auto* digest = app.add_subcommand(
      "digest",
      "print the Merkle root and key count (equal roots: equal data)");
  auto* info = app.add_subcommand("info", "print the node's INFO");
  info->add_option("section", section,
                   "server, clients, storage, replication, stats, keyspace");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (*put) return Put(o, key, value);
  if (*get) return all ? GetAll(o, key) : Get(o, key);
  if (*del) return Del(o, key);
  if (*members) return Members(o);
  if (*digest) return Digest(o);
  if (*info) return Info(o, section);
  return 2;
}
