// The CLI's commands against one node: put, get (one value, or every
// sibling with the context), del, members, digest and info, each printing
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
int Info(const Options& o, const std::string& section);

}  // namespace gossipkv::cli
