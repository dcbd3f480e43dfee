#include "src/platform/real_loop_device.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/major.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "src/platform/errno_status.h"

namespace cellar {
namespace {

// Another process can take the device LOOP_CTL_GET_FREE named before we
// bind it; each lost race costs one more round.
constexpr int kAttachAttempts = 64;
// How long Detach waits for the kernel to finish tearing a device down.
constexpr absl::Duration kDetachSettle = absl::Seconds(2);

// Closes the descriptor on every return path.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { Close(); }

  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

absl::Status ErrnoError(absl::StatusCode code, int err,
                        absl::string_view what) {
  return ErrnoStatus(err, what, {}, code);
}

// The code for a failed open(2) of an image or device node.
absl::StatusCode OpenErrorCode(int err) {
  return ErrnoStatusCode(err, kOpenErrnoCodes, absl::StatusCode::kInternal);
}

// INVALID_ARGUMENT unless `fd` is a loop block device, so that the loop
// ioctls never reach some other driver.
absl::Status CheckIsLoop(int fd, const std::string& device) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return ErrnoError(absl::StatusCode::kInternal, errno,
                      absl::StrCat("stat ", device));
  }
  if (!S_ISBLK(st.st_mode) || major(st.st_rdev) != LOOP_MAJOR) {
    return absl::InvalidArgumentError(
        absl::StrCat(device, " is not a loop device"));
  }
  return absl::OkStatus();
}

// The contents of a small sysfs file. NOT_FOUND when it is gone, as the
// files of a device being detached go at any moment.
absl::StatusOr<std::string> ReadSysfs(const std::string& path) {
  ScopedFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) {
    const int err = errno;
    return ErrnoError(err == ENOENT ? absl::StatusCode::kNotFound
                                    : absl::StatusCode::kInternal,
                      err, path);
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t got = read(fd.get(), buf, sizeof(buf));
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      // ENXIO/ENODEV: the device went away between open and read.
      return ErrnoError(err == ENXIO || err == ENODEV
                            ? absl::StatusCode::kNotFound
                            : absl::StatusCode::kInternal,
                        err, path);
    }
    if (got == 0) break;
    text.append(buf, static_cast<size_t>(got));
  }
  // Sysfs ends every value with one newline; anything else belongs to it
  // (a backing file name may itself end in spaces).
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// "loop12" -> 12; -1 for names that are not whole loop devices.
int LoopIndex(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "loop")) return -1;
  int index = 0;
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return c >= '0' && c <= '9';
      })) {
    return -1;
  }
  if (!absl::SimpleAtoi(name, &index)) return -1;
  return index;
}

// lo_file_name is only informational (sysfs reports the real path), so a
// long path is simply cut.
void SetFileName(const std::string& path, struct loop_info64* info) {
  const size_t n = std::min(path.size(), sizeof(info->lo_file_name) - 1);
  memcpy(info->lo_file_name, path.data(), n);
  info->lo_file_name[n] = '\0';
}

// A lost race for a free device: the caller asks for another one.
absl::Status LostRace(const std::string& device) {
  return absl::AbortedError(absl::StrCat(device, " was taken meanwhile"));
}

// LOOP_SET_FD, LOOP_SET_STATUS64 and LOOP_SET_DIRECT_IO, for kernels
// without LOOP_CONFIGURE (before 5.8).
absl::Status LegacyConfigure(bool read_only, int loop_fd, int image_fd,
                             const std::string& image_path,
                             const std::string& device) {
  if (ioctl(loop_fd, LOOP_SET_FD, image_fd) != 0) {
    const int err = errno;
    if (err == EBUSY) return LostRace(device);
    return ErrnoError(absl::StatusCode::kInternal, err,
                      absl::StrCat("LOOP_SET_FD ", device));
  }
  struct loop_info64 info;
  memset(&info, 0, sizeof(info));
  SetFileName(image_path, &info);
  // No autoclear: the device outlives the driver. (The read-only flag is
  // taken from the mode of the file descriptor by LOOP_SET_FD.)
  info.lo_flags = 0;
  (void)read_only;
  if (ioctl(loop_fd, LOOP_SET_STATUS64, &info) != 0) {
    const int err = errno;
    ioctl(loop_fd, LOOP_CLR_FD, 0);
    return ErrnoError(absl::StatusCode::kInternal, err,
                      absl::StrCat("LOOP_SET_STATUS64 ", device));
  }
  // Best effort: EINVAL means the backing filesystem cannot do direct I/O,
  // and the device then works buffered.
  ioctl(loop_fd, LOOP_SET_DIRECT_IO, 1UL);
  return absl::OkStatus();
}

}  // namespace

RealLoopDevices::RealLoopDevices(std::string sysfs_root, std::string dev_root)
    : sysfs_root_(std::move(sysfs_root)), dev_root_(std::move(dev_root)) {}

absl::Status RealLoopDevices::Configure(bool read_only, int loop_fd,
                                        int image_fd,
                                        const std::string& image_path,
                                        const std::string& device) {
  struct loop_config config;
  memset(&config, 0, sizeof(config));
  config.fd = static_cast<__u32>(image_fd);
  const __u32 ro_flag = read_only ? LO_FLAGS_READ_ONLY : 0;
  config.info.lo_flags = LO_FLAGS_DIRECT_IO | ro_flag;  // never AUTOCLEAR
  SetFileName(image_path, &config.info);
  if (ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0) return absl::OkStatus();
  int err = errno;
  if (err == EBUSY) return LostRace(device);
  if (err == EINVAL) {
    // Either direct I/O is refused for this file (some kernels fail rather
    // than fall back to buffered I/O), or the kernel predates
    // LOOP_CONFIGURE (unknown loop ioctls are EINVAL there). Without direct
    // I/O tells the two apart.
    config.info.lo_flags = ro_flag;
    if (ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0) return absl::OkStatus();
    err = errno;
    if (err == EBUSY) return LostRace(device);
  }
  if (err != EINVAL && err != ENOTTY) {
    return ErrnoError(
        absl::StatusCode::kInternal, err,
        absl::StrCat("LOOP_CONFIGURE ", device, " with ", image_path));
  }
  return LegacyConfigure(read_only, loop_fd, image_fd, image_path, device);
}

absl::StatusOr<std::string> RealLoopDevices::Attach(
    const std::string& image_path) {
  return AttachWithFlags(image_path, /*read_only=*/false);
}

absl::StatusOr<std::string> RealLoopDevices::AttachReadOnly(
    const std::string& backing_path) {
  return AttachWithFlags(backing_path, /*read_only=*/true);
}

absl::StatusOr<std::string> RealLoopDevices::AttachWithFlags(
    const std::string& image_path, bool read_only) {
  // The device keeps its own reference to the open file; ours goes on
  // return.
  ScopedFd image(
      open(image_path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!image.ok()) {
    const int err = errno;
    return ErrnoError(OpenErrorCode(err), err,
                      absl::StrCat("open image ", image_path));
  }
  struct stat st;
  if (fstat(image.get(), &st) != 0) {
    return ErrnoError(absl::StatusCode::kInternal, errno,
                      absl::StrCat("stat image ", image_path));
  }
  if (!S_ISREG(st.st_mode) && !(read_only && S_ISBLK(st.st_mode))) {
    return absl::InvalidArgumentError(
        absl::StrCat("image ", image_path, " is not a regular file"));
  }

  const std::string control_path = absl::StrCat(dev_root_, "/loop-control");
  ScopedFd control(open(control_path.c_str(), O_RDWR | O_CLOEXEC));
  if (!control.ok()) {
    const int err = errno;
    // A missing control node means no loop driver here, not a missing image.
    const absl::StatusCode code =
        OpenErrorCode(err) == absl::StatusCode::kNotFound
            ? absl::StatusCode::kFailedPrecondition
            : OpenErrorCode(err);
    return ErrnoError(code, err, absl::StrCat("open ", control_path));
  }

  absl::MutexLock lock(&attach_mu_);
  for (int attempt = 0; attempt < kAttachAttempts; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(attempt));
    const int index = ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (index < 0) {
      const int err = errno;
      return ErrnoError(err == EPERM || err == EACCES
                            ? absl::StatusCode::kPermissionDenied
                            : absl::StatusCode::kResourceExhausted,
                        err, "LOOP_CTL_GET_FREE: no free loop device");
    }
    const std::string device = absl::StrCat(dev_root_, "/loop", index);
    ScopedFd loop(open(device.c_str(), O_RDWR | O_CLOEXEC));
    if (!loop.ok()) {
      const int err = errno;
      // The kernel made the device, so a missing node is a broken /dev
      // (not a devtmpfs), not a missing image.
      return ErrnoError(err == ENOENT ? absl::StatusCode::kFailedPrecondition
                                      : absl::StatusCode::kInternal,
                        err, absl::StrCat("open ", device));
    }
    absl::Status configured =
        Configure(read_only, loop.get(), image.get(), image_path, device);
    if (configured.ok()) return device;
    if (!absl::IsAborted(configured)) return configured;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no loop device for ", image_path, " after ",
                   kAttachAttempts, " attempts: others took each free one"));
}

bool RealLoopDevices::StillBound(const std::string& device) const {
  const size_t slash = device.rfind('/');
  const std::string name =
      slash == std::string::npos ? device : device.substr(slash + 1);
  const std::string path =
      absl::StrCat(sysfs_root_, "/block/", name, "/loop/backing_file");
  return access(path.c_str(), F_OK) == 0;
}

absl::Status RealLoopDevices::Detach(const std::string& device) {
  // O_EXCL fails while a filesystem is mounted on the device (or dm or md
  // claim it). Without this check the kernel accepts LOOP_CLR_FD on a busy
  // device and turns it into a deferred detach with autoclear set.
  ScopedFd fd(open(device.c_str(), O_RDONLY | O_CLOEXEC | O_EXCL));
  if (!fd.ok()) {
    const int err = errno;
    if (err == EBUSY) {
      return absl::FailedPreconditionError(absl::StrCat(
          device, " is in use (mounted or claimed); not detaching"));
    }
    return ErrnoError(OpenErrorCode(err), err, absl::StrCat("open ", device));
  }
  if (absl::Status is_loop = CheckIsLoop(fd.get(), device); !is_loop.ok()) {
    return is_loop;
  }
  if (ioctl(fd.get(), LOOP_CLR_FD, 0) != 0) {
    const int err = errno;
    switch (err) {
      case ENXIO:
        return absl::NotFoundError(absl::StrCat(device, " is not attached"));
      case EBUSY:
        return absl::FailedPreconditionError(
            absl::StrCat(device, " is busy: ", strerror(err)));
      default:
        return ErrnoError(absl::StatusCode::kInternal, err,
                          absl::StrCat("LOOP_CLR_FD ", device));
    }
  }
  // When only we held the device it is now running down and GET_STATUS
  // fails. When others still hold it open, the kernel kept it bound and set
  // autoclear to detach at their last close: clear that again, so that the
  // device never vanishes later under a caller who was told it failed.
  struct loop_info64 info;
  memset(&info, 0, sizeof(info));
  if (ioctl(fd.get(), LOOP_GET_STATUS64, &info) == 0) {
    if (info.lo_flags & LO_FLAGS_AUTOCLEAR) {
      info.lo_flags &= ~LO_FLAGS_AUTOCLEAR;
      if (ioctl(fd.get(), LOOP_SET_STATUS64, &info) != 0) {
        return ErrnoError(
            absl::StatusCode::kInternal, errno,
            absl::StrCat(device,
                         " is held open by another process and is "
                         "left to detach at its last close"));
      }
    }
    return absl::FailedPreconditionError(absl::StrCat(
        device, " is held open by another process; not detaching"));
  }
  // The teardown runs when our descriptor closes; wait for it so that a
  // List() right after no longer shows the device.
  fd.Close();
  const absl::Time deadline = absl::Now() + kDetachSettle;
  while (StillBound(device) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LoopInfo>> RealLoopDevices::List() {
  const std::string block_dir = absl::StrCat(sysfs_root_, "/block");
  DIR* dir = opendir(block_dir.c_str());
  if (dir == nullptr) {
    return ErrnoError(absl::StatusCode::kInternal, errno,
                      absl::StrCat("open ", block_dir));
  }
  std::vector<std::pair<int, std::string>> names;
  errno = 0;
  while (struct dirent* entry = readdir(dir)) {
    const int index = LoopIndex(entry->d_name);
    if (index >= 0) names.emplace_back(index, entry->d_name);
  }
  const int readdir_err = errno;
  closedir(dir);
  if (readdir_err != 0) {
    return ErrnoError(absl::StatusCode::kInternal, readdir_err,
                      absl::StrCat("read ", block_dir));
  }
  std::sort(names.begin(), names.end());

  std::vector<LoopInfo> out;
  for (const auto& [index, name] : names) {
    const std::string base = absl::StrCat(block_dir, "/", name);
    // An unbound device has no loop/ directory; a device detached while we
    // read loses it half-way. Both are simply not attached.
    absl::StatusOr<std::string> backing =
        ReadSysfs(absl::StrCat(base, "/loop/backing_file"));
    absl::StatusOr<std::string> sectors =
        ReadSysfs(absl::StrCat(base, "/size"));
    absl::StatusOr<std::string> dio =
        ReadSysfs(absl::StrCat(base, "/loop/dio"));
    absl::StatusOr<std::string> autoclear =
        ReadSysfs(absl::StrCat(base, "/loop/autoclear"));
    absl::StatusOr<std::string> ro = ReadSysfs(absl::StrCat(base, "/ro"));
    bool gone = false;
    for (const auto* value : {&backing, &sectors, &dio, &autoclear, &ro}) {
      if (absl::IsNotFound(value->status())) {
        gone = true;
      } else if (!value->ok()) {
        return value->status();
      }
    }
    if (gone) continue;
    uint64_t sector_count = 0;
    if (!absl::SimpleAtoi(*sectors, &sector_count)) {
      return absl::InternalError(
          absl::StrCat("bad size \"", *sectors, "\" in ", base, "/size"));
    }
    LoopInfo info;
    info.device = absl::StrCat(dev_root_, "/", name);
    // The kernel's path for the file, " (deleted)" appended once it is
    // unlinked; reported as is.
    info.backing_file = std::move(*backing);
    info.size_bytes = sector_count * 512;  // sysfs counts 512-byte sectors
    info.direct_io = *dio == "1";
    info.autoclear = *autoclear == "1";
    info.read_only = *ro == "1";
    out.push_back(std::move(info));
  }
  return out;
}

absl::Status RealLoopDevices::RefreshCapacity(const std::string& device) {
  // Read-only is enough: the driver has CAP_SYS_ADMIN, and a read-only open
  // does not disturb a mounted filesystem.
  ScopedFd fd(open(device.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) {
    const int err = errno;
    return ErrnoError(OpenErrorCode(err), err, absl::StrCat("open ", device));
  }
  if (absl::Status is_loop = CheckIsLoop(fd.get(), device); !is_loop.ok()) {
    return is_loop;
  }
  if (ioctl(fd.get(), LOOP_SET_CAPACITY, 0) != 0) {
    const int err = errno;
    if (err == ENXIO) {
      return absl::NotFoundError(absl::StrCat(device, " is not attached"));
    }
    return ErrnoError(err == EPERM || err == EACCES
                          ? absl::StatusCode::kPermissionDenied
                          : absl::StatusCode::kInternal,
                      err, absl::StrCat("LOOP_SET_CAPACITY ", device));
  }
  return absl::OkStatus();
}

}  // namespace cellar
