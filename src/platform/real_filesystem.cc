#include "src/platform/real_filesystem.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "src/common/status_macros.h"
#include "src/platform/confined_path.h"
#include "src/platform/read_file.h"

namespace cellar {
namespace {

std::string Parent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status WriteAll(int fd, const std::string& content) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t put = write(fd, content.data() + done, content.size() - done);
    if (put < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "write");
    }
    done += static_cast<size_t>(put);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FileInfo> RealFileSystem::Stat(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, path);
  FileInfo info;
  if (S_ISREG(st.st_mode)) {
    info.type = FileType::kRegular;
  } else if (S_ISDIR(st.st_mode)) {
    info.type = FileType::kDirectory;
  } else if (S_ISLNK(st.st_mode)) {
    info.type = FileType::kSymlink;
  } else if (S_ISBLK(st.st_mode)) {
    info.type = FileType::kBlockDevice;
  }
  info.mode = st.st_mode & 07777;
  info.size = static_cast<uint64_t>(st.st_size);
  info.device = st.st_dev;
  info.rdev = st.st_rdev;
  info.gid = st.st_gid;
  return info;
}

absl::Status RealFileSystem::MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("not absolute: ", path));
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a directory"));
  }
  if (path != "/") {
    ABSL_RETURN_IF_ERROR(MakeDirs(Parent(path), mode));
  }
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", path));
  }
  return absl::OkStatus();
}

absl::Status RealFileSystem::Remove(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, path);
  }
  const int rc =
      S_ISDIR(st.st_mode) ? rmdir(path.c_str()) : unlink(path.c_str());
  if (rc != 0 && errno != ENOENT) {
    if (errno == ENOTEMPTY || errno == EEXIST || errno == EBUSY) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot remove ", path, ": ", strerror(errno)));
    }
    return absl::ErrnoToStatus(errno, absl::StrCat("remove ", path));
  }
  return absl::OkStatus();
}

absl::Status RealFileSystem::CreateFile(const std::string& path, mode_t mode) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create ", path));
  close(fd);
  return absl::OkStatus();
}

absl::StatusOr<std::string> RealFileSystem::ReadFile(const std::string& path) {
  return ReadWholeFile(path);
}

absl::Status RealFileSystem::WriteFileAtomic(const std::string& path,
                                             const std::string& content,
                                             mode_t mode) {
  const std::string temp = absl::StrCat(path, ".tmp");
  const int fd =
      open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
           mode);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create ", temp));
  absl::Status status = WriteAll(fd, content);
  if (status.ok() && fsync(fd) != 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat("fsync ", temp));
  }
  close(fd);
  if (status.ok() && rename(temp.c_str(), path.c_str()) != 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat("rename ", temp));
  }
  if (!status.ok()) {
    unlink(temp.c_str());
    return status;
  }
  const int dir =
      open(Parent(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return absl::ErrnoToStatus(errno, "open directory");
  const int rc = fsync(dir);
  const int err = errno;
  close(dir);
  if (rc != 0) return absl::ErrnoToStatus(err, "fsync directory");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RealFileSystem::ListDir(
    const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return absl::ErrnoToStatus(errno, path);
  std::vector<std::string> names;
  while (dirent* entry = readdir(dir)) {
    const absl::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<FsStats> RealFileSystem::StatFs(const std::string& path) {
  struct statvfs vfs;
  if (statvfs(path.c_str(), &vfs) != 0) return absl::ErrnoToStatus(errno, path);
  FsStats stats;
  stats.total_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  stats.free_bytes = static_cast<uint64_t>(vfs.f_bfree) * vfs.f_frsize;
  stats.available_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  stats.total_inodes = vfs.f_files;
  stats.free_inodes = vfs.f_ffree;
  return stats;
}

absl::Status RealFileSystem::EnsureFileSize(const std::string& path,
                                            uint64_t size, bool allocate,
                                            mode_t mode) {
  const int fd =
      open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  absl::Status status;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  } else if (!S_ISREG(st.st_mode)) {
    status = absl::FailedPreconditionError(
        absl::StrCat(path, " is not a regular file"));
  } else if (static_cast<uint64_t>(st.st_size) < size &&
             ftruncate(fd, static_cast<off_t>(size)) != 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat("truncate ", path));
  }
  if (status.ok() && allocate) {
    const int rc = fallocate(fd, 0, 0, static_cast<off_t>(size));
    if (rc != 0) {
      status =
          errno == ENOSPC
              ? absl::ResourceExhaustedError(absl::StrCat(
                    "not enough space to allocate ", size, " bytes for ", path))
              : absl::ErrnoToStatus(errno, absl::StrCat("fallocate ", path));
    }
  }
  if (status.ok() && fsync(fd) != 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat("fsync ", path));
  }
  close(fd);
  return status;
}

absl::StatusOr<uint64_t> RealFileSystem::CopySparse(const std::string& from,
                                                    const std::string& to,
                                                    mode_t mode) {
  const int in = open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", from));
  struct stat st;
  if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(in);
    return absl::FailedPreconditionError(
        absl::StrCat(from, " is not a regular file"));
  }
  const std::string temp = absl::StrCat(to, ".tmp");
  const int out =
      open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
           mode);
  if (out < 0) {
    const int err = errno;
    close(in);
    return absl::ErrnoToStatus(err, absl::StrCat("create ", temp));
  }
  auto fail = [&](int err, const std::string& what) {
    close(in);
    close(out);
    unlink(temp.c_str());
    if (err == ENOSPC) {
      return absl::ResourceExhaustedError(
          absl::StrCat(what, ": no space left"));
    }
    return absl::ErrnoToStatus(err, what);
  };
  uint64_t copied = 0;
  if (ioctl(out, FICLONE, in) != 0) {
    // No reflink here: copy the data extents only.
    off_t offset = 0;
    const off_t size = st.st_size;
    while (offset < size) {
      off_t data = lseek(in, offset, SEEK_DATA);
      if (data < 0) {
        if (errno == ENXIO) break;  // only a hole remains
        return fail(errno, absl::StrCat("seek data in ", from));
      }
      off_t hole = lseek(in, data, SEEK_HOLE);
      if (hole < 0) return fail(errno, absl::StrCat("seek hole in ", from));
      off_t in_off = data, out_off = data;
      while (in_off < hole) {
        const ssize_t n = copy_file_range(
            in, &in_off, out, &out_off, static_cast<size_t>(hole - in_off), 0);
        if (n < 0) {
          if (errno == EINTR) continue;
          return fail(errno, absl::StrCat("copy ", from));
        }
        if (n == 0) break;
        copied += static_cast<uint64_t>(n);
      }
      offset = hole;
    }
    if (ftruncate(out, size) != 0) return fail(errno, "truncate copy");
  }
  if (fsync(out) != 0) return fail(errno, absl::StrCat("fsync ", temp));
  close(in);
  close(out);
  if (rename(temp.c_str(), to.c_str()) != 0) {
    const int err = errno;
    unlink(temp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("rename ", temp));
  }
  const int dir = open(Parent(to).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return copied;
}

absl::StatusOr<std::string> RealFileSystem::RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("realpath ", path));
  }
  return std::string(resolved);
}

absl::Status RealFileSystem::SetOwnerGroupMode(const std::string& root,
                                               const std::string& path,
                                               gid_t gid, mode_t mode) {
  ABSL_ASSIGN_OR_RETURN(ScopedFd at, OpenConfined(root, path));
  if (fchownat(at.get(), "", static_cast<uid_t>(-1), gid, AT_EMPTY_PATH) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chown ", path));
  }
  // chmod after chown: chown clears the setgid bit. Through the magic link,
  // which names the walked object (never a symlink: the walk refuses them).
  if (chmod(FdPath(at).c_str(), mode) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chmod ", path));
  }
  return absl::OkStatus();
}

absl::Status RealFileSystem::MakeDirsBelow(const std::string& root,
                                           const std::string& path,
                                           mode_t mode) {
  return MakeConfinedDirs(root, path, mode).status();
}

absl::Status RealFileSystem::CreateFileBelow(const std::string& root,
                                             const std::string& path,
                                             mode_t mode) {
  ABSL_ASSIGN_OR_RETURN(ConfinedParent parent, OpenConfinedParent(root, path));
  const int fd = openat(parent.dir.get(), parent.name.c_str(),
                        O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is a symlink; refusing"));
    }
    if (err == EISDIR) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is a directory"));
    }
    return absl::ErrnoToStatus(err, absl::StrCat("create ", path));
  }
  close(fd);
  return absl::OkStatus();
}

absl::Status RealFileSystem::RemoveEmpty(const std::string& root,
                                         const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string parent = path.substr(0, slash);
  const std::string name = path.substr(slash + 1);
  absl::StatusOr<ScopedFd> dir =
      parent == root ? absl::StatusOr<ScopedFd>(ScopedFd(open(
                           root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)))
                     : OpenConfined(root, parent);
  if (absl::IsNotFound(dir.status())) return absl::OkStatus();
  if (!dir.ok()) return dir.status();
  if (dir->get() < 0) return absl::ErrnoToStatus(errno, root);
  struct stat st;
  if (fstatat(dir->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  int flags = 0;
  if (S_ISDIR(st.st_mode)) {
    flags = AT_REMOVEDIR;  // rmdir refuses a directory that is not empty
  } else if (!S_ISREG(st.st_mode) || st.st_size != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not an empty file or directory"));
  }
  if (unlinkat(dir->get(), name.c_str(), flags) != 0) {
    const int err = errno;
    if (err == ENOENT) return absl::OkStatus();
    if (err == ENOTEMPTY || err == EEXIST || err == EBUSY) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": ", strerror(err)));
    }
    return absl::ErrnoToStatus(err, absl::StrCat("remove ", path));
  }
  return absl::OkStatus();
}

}  // namespace cellar
