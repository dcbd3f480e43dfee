#include "test/fakes/fake_filesystem.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/common/status_macros.h"

namespace cellar {
namespace {

std::string ParentOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

FakeFileSystem::FakeFileSystem() {
  absl::MutexLock lock(&mu_);
  Node root;
  root.info.type = FileType::kDirectory;
  root.info.mode = 0755;
  nodes_["/"] = root;
  stats_.total_bytes = 100ull << 30;
  stats_.free_bytes = stats_.available_bytes = 50ull << 30;
  stats_.total_inodes = 1 << 20;
  stats_.free_inodes = 1 << 19;
}

void FakeFileSystem::AddFile(const std::string& path, std::string content) {
  absl::MutexLock lock(&mu_);
  MakeDirsLocked(ParentOf(path), 0755).IgnoreError();
  Node node;
  node.info.type = FileType::kRegular;
  node.info.mode = 0644;
  node.info.size = content.size();
  node.content = std::move(content);
  nodes_[path] = std::move(node);
}

void FakeFileSystem::AddDevice(const std::string& path, uint64_t rdev) {
  absl::MutexLock lock(&mu_);
  MakeDirsLocked(ParentOf(path), 0755).IgnoreError();
  Node node;
  node.info.type = FileType::kBlockDevice;
  node.info.mode = 0660;
  node.info.rdev = rdev;
  nodes_[path] = std::move(node);
}

void FakeFileSystem::AddSymlink(const std::string& path, std::string target) {
  absl::MutexLock lock(&mu_);
  MakeDirsLocked(ParentOf(path), 0755).IgnoreError();
  Node node;
  node.info.type = FileType::kSymlink;
  node.info.mode = 0777;
  node.content = std::move(target);
  nodes_[path] = std::move(node);
}

void FakeFileSystem::SetFsStats(FsStats stats) {
  absl::MutexLock lock(&mu_);
  stats_ = stats;
}

bool FakeFileSystem::ParentIsDirLocked(const std::string& path) const {
  auto it = nodes_.find(ParentOf(path));
  return it != nodes_.end() && it->second.info.type == FileType::kDirectory;
}

absl::StatusOr<FileInfo> FakeFileSystem::Stat(const std::string& path) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return absl::NotFoundError(path);
  return it->second.info;
}

absl::Status FakeFileSystem::MakeDirsLocked(const std::string& path,
                                            mode_t mode) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("not absolute: ", path));
  }
  auto it = nodes_.find(path);
  if (it != nodes_.end()) {
    if (it->second.info.type == FileType::kDirectory) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a directory"));
  }
  ABSL_RETURN_IF_ERROR(MakeDirsLocked(ParentOf(path), mode));
  Node node;
  node.info.type = FileType::kDirectory;
  node.info.mode = mode;
  nodes_[path] = std::move(node);
  return absl::OkStatus();
}

absl::Status FakeFileSystem::MakeDirs(const std::string& path, mode_t mode) {
  absl::MutexLock lock(&mu_);
  return MakeDirsLocked(path, mode);
}

absl::Status FakeFileSystem::Remove(const std::string& path) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return absl::OkStatus();
  if (it->second.info.type == FileType::kDirectory) {
    const std::string prefix = path == "/" ? "/" : path + "/";
    auto child = nodes_.upper_bound(path);
    if (child != nodes_.end() && absl::StartsWith(child->first, prefix)) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot remove ", path, ": directory not empty"));
    }
  }
  nodes_.erase(it);
  return absl::OkStatus();
}

absl::Status FakeFileSystem::CreateFile(const std::string& path, mode_t mode) {
  absl::MutexLock lock(&mu_);
  if (!ParentIsDirLocked(path)) return absl::NotFoundError(ParentOf(path));
  auto it = nodes_.find(path);
  if (it != nodes_.end()) {
    if (it->second.info.type == FileType::kDirectory) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is a directory"));
    }
    return absl::OkStatus();
  }
  Node node;
  node.info.type = FileType::kRegular;
  node.info.mode = mode;
  nodes_[path] = std::move(node);
  return absl::OkStatus();
}

absl::StatusOr<std::string> FakeFileSystem::ReadFile(const std::string& path) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return absl::NotFoundError(path);
  if (it->second.info.type != FileType::kRegular) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a file"));
  }
  return it->second.content;
}

absl::Status FakeFileSystem::WriteFileAtomic(const std::string& path,
                                             const std::string& content,
                                             mode_t mode) {
  absl::MutexLock lock(&mu_);
  if (!ParentIsDirLocked(path)) return absl::NotFoundError(ParentOf(path));
  Node node;
  node.info.type = FileType::kRegular;
  node.info.mode = mode;
  node.info.size = content.size();
  node.content = content;
  nodes_[path] = std::move(node);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FakeFileSystem::ListDir(
    const std::string& path) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return absl::NotFoundError(path);
  if (it->second.info.type != FileType::kDirectory) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a directory"));
  }
  const std::string prefix = path == "/" ? "/" : path + "/";
  std::vector<std::string> names;
  for (auto child = nodes_.upper_bound(path);
       child != nodes_.end() && absl::StartsWith(child->first, prefix);
       ++child) {
    const std::string rest = child->first.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos) {
      names.push_back(rest);
    }
  }
  return names;
}

absl::StatusOr<FsStats> FakeFileSystem::StatFs(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (nodes_.find(path) == nodes_.end()) return absl::NotFoundError(path);
  return stats_;
}

absl::Status FakeFileSystem::EnsureFileSize(const std::string& path,
                                            uint64_t size, bool allocate,
                                            mode_t mode) {
  absl::MutexLock lock(&mu_);
  if (!ParentIsDirLocked(path)) return absl::NotFoundError(ParentOf(path));
  auto it = nodes_.find(path);
  if (it == nodes_.end()) {
    Node node;
    node.info.type = FileType::kRegular;
    node.info.mode = mode;
    it = nodes_.emplace(path, std::move(node)).first;
  }
  if (it->second.info.type != FileType::kRegular) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a regular file"));
  }
  const uint64_t grow =
      size > it->second.info.size ? size - it->second.info.size : 0;
  if (allocate && grow > stats_.available_bytes) {
    return absl::ResourceExhaustedError("not enough space");
  }
  if (allocate) {
    stats_.available_bytes -= grow;
    stats_.free_bytes -= std::min(stats_.free_bytes, grow);
  }
  it->second.info.size = std::max(it->second.info.size, size);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FakeFileSystem::CopySparse(const std::string& from,
                                                    const std::string& to,
                                                    mode_t mode) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(from);
  if (it == nodes_.end()) return absl::NotFoundError(from);
  if (it->second.info.type != FileType::kRegular) {
    return absl::FailedPreconditionError(absl::StrCat(from, " is not a file"));
  }
  if (!ParentIsDirLocked(to)) return absl::NotFoundError(ParentOf(to));
  Node copy = it->second;
  copy.info.mode = mode;
  nodes_[to] = copy;
  return static_cast<uint64_t>(copy.content.size());
}

absl::StatusOr<std::string> FakeFileSystem::RealPath(const std::string& path) {
  absl::MutexLock lock(&mu_);
  // Follows a symlink at the final component (enough for device links).
  std::string current = path;
  for (int hops = 0; hops < 8; ++hops) {
    auto it = nodes_.find(current);
    if (it == nodes_.end()) return absl::NotFoundError(current);
    if (it->second.info.type != FileType::kSymlink) return current;
    const std::string& target = it->second.content;
    current = target[0] == '/' ? target : ParentOf(current) + "/" + target;
  }
  return absl::FailedPreconditionError("too many symlinks");
}

absl::Status FakeFileSystem::CheckConfinedLocked(
    const std::string& root, const std::string& path) const {
  if (!absl::StartsWith(path, root + "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not inside ", root));
  }
  std::string prefix = root;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(path).substr(root.size() + 1), '/')) {
    absl::StrAppend(&prefix, "/", part);
    auto it = nodes_.find(prefix);
    if (it != nodes_.end() && it->second.info.type == FileType::kSymlink) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " goes through a symlink"));
    }
  }
  return absl::OkStatus();
}

absl::Status FakeFileSystem::SetOwnerGroupMode(const std::string& root,
                                               const std::string& path,
                                               gid_t gid, mode_t mode) {
  absl::MutexLock lock(&mu_);
  ABSL_RETURN_IF_ERROR(CheckConfinedLocked(root, path));
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return absl::NotFoundError(path);
  it->second.info.gid = gid;
  it->second.info.mode = mode;
  return absl::OkStatus();
}

absl::Status FakeFileSystem::MakeDirsBelow(const std::string& root,
                                           const std::string& path,
                                           mode_t mode) {
  {
    absl::MutexLock lock(&mu_);
    ABSL_RETURN_IF_ERROR(CheckConfinedLocked(root, path));
  }
  return MakeDirs(path, mode);
}

absl::Status FakeFileSystem::CreateFileBelow(const std::string& root,
                                             const std::string& path,
                                             mode_t mode) {
  {
    absl::MutexLock lock(&mu_);
    ABSL_RETURN_IF_ERROR(CheckConfinedLocked(root, path));
  }
  return CreateFile(path, mode);
}

absl::Status FakeFileSystem::RemoveEmpty(const std::string& root,
                                         const std::string& path) {
  {
    absl::MutexLock lock(&mu_);
    ABSL_RETURN_IF_ERROR(CheckConfinedLocked(root, path));
    auto it = nodes_.find(path);
    if (it == nodes_.end()) return absl::OkStatus();
    const FileInfo& info = it->second.info;
    const bool empty_file = info.type == FileType::kRegular &&
                            it->second.content.empty() && info.size == 0;
    if (info.type != FileType::kDirectory && !empty_file) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is not an empty file or directory"));
    }
  }
  return Remove(path);  // a directory with children is refused there
}

}  // namespace cellar
