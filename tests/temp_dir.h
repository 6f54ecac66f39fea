// TempDir: a fresh directory under the system temp dir, removed with its
// contents when the object dies. Tmpfs: a small file system of its own
// (mounting needs root), for tests of a full disk. For tests only.
#pragma once

#include <filesystem>
#include <string>

namespace gossipkv::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

class Tmpfs {
 public:
  // Mounts a tmpfs of `megabytes` on a fresh directory; mounted() tells
  // whether that worked. Unmounted when the object dies.
  explicit Tmpfs(int megabytes);
  ~Tmpfs();
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::filesystem::path& path() const { return point_; }

  // Writes the file `name` until the file system is full or `bytes` are
  // written.
  void Fill(const std::string& name, size_t bytes) const;

 private:
  TempDir dir_;
  std::filesystem::path point_;
  bool mounted_ = false;
};

}  // namespace gossipkv::testing
