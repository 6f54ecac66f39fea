// TempDir via mkdtemp; Tmpfs via mount(2).
#include "tests/temp_dir.h"

#include <stdlib.h>
#include <sys/mount.h>

#include <fstream>
#include <stdexcept>

namespace gossipkv::testing {

TempDir::TempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "gossipkv-test-XXXXXX")
          .string();
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

Tmpfs::Tmpfs(int megabytes) : point_(dir_.path() / "disk") {
  std::filesystem::create_directories(point_);
  const std::string size = "size=" + std::to_string(megabytes) + "m";
  mounted_ = mount("tmpfs", point_.c_str(), "tmpfs", 0, size.c_str()) == 0;
}

Tmpfs::~Tmpfs() {
  // Detached at once even if a file is still open; dir_ then removes the
  // empty mount point.
  if (mounted_) umount2(point_.c_str(), MNT_DETACH);
}

void Tmpfs::Fill(const std::string& name, size_t bytes) const {
  std::ofstream f(point_ / name, std::ios::binary);
  const std::string chunk(64 * 1024, 'f');
  for (size_t written = 0; written < bytes && f; written += chunk.size()) {
    f.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    f.flush();
  }
}

}  // namespace gossipkv::testing
