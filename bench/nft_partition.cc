// nftables partitions: written as a script and loaded with `nft -f`.
#include "bench/nft_partition.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace gossipkv {

namespace fs = std::filesystem;

Status NftPartition(const std::vector<std::vector<std::string>>& groups) {
  auto address = [](const std::string& name) {
    return fmt::format("127.0.0.{}", 10 + std::stoi(name.substr(1)));
  };
  std::string script =
      "table inet gossipkv_partition\ndelete table inet gossipkv_partition\n"
      "table inet gossipkv_partition {\n chain out {\n  type filter hook "
      "output priority 0; policy accept;\n";
  for (size_t a = 0; a < groups.size(); ++a) {
    for (size_t b = 0; b < groups.size(); ++b) {
      if (a == b) continue;
      for (const auto& x : groups[a]) {
        for (const auto& y : groups[b]) {
          script += fmt::format("  ip saddr {} ip daddr {} drop\n", address(x),
                                address(y));
        }
      }
    }
  }
  script += " }\n}\n";
  const fs::path file =
      fs::temp_directory_path() / fmt::format("gossipkv-nft-{}.nft", getpid());
  std::ofstream(file) << script;
  const int rc = std::system(fmt::format("nft -f '{}'", file.string()).c_str());
  fs::remove(file);
  return rc == 0 ? Status::Ok() : Status::IOError("nft -f failed");
}

Status NftHeal() {
  return std::system("nft delete table inet gossipkv_partition 2>/dev/null") ==
                 0
             ? Status::Ok()
             : Status::IOError("nft delete table failed");
}

}  // namespace gossipkv
