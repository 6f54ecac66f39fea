// The CLI's commands against one node: put, get (one value, or every
// sibling with the context), del, members, digest, replicas, ring and info,
// each printing
// text or, with --json, one JSON value. Each returns the exit code. Called
// by cli/main.cc only. One thread.
#pragma once

#include <string>

#include "cli/command.h"

namespace gossipkv::cli {

int Put(const Options& o, const std::string& key, const std::string& value);
int Get(const Options& o, const std::string& key);
int GetAll(const Options& o, const std::string& key);
int Del(const Options& o, const std::string& key);
int Members(const Options& o);
int Digest(const Options& o);
// The owners of KEY's partition, best first (REPLICAS).
int Replicas(const Options& o, const std::string& key);
// The partitions each ring member owns (CLUSTER RING).
int Ring(const Options& o);
int Info(const Options& o, const std::string& section);

}  // namespace gossipkv::cli
