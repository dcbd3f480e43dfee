#include "src/platform/real_fs_tools.h"

#include <blkid/blkid.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "src/platform/errno_status.h"

namespace cellar {
namespace {

// mkfs and growing write metadata across the whole device; on slow or busy
// storage a large volume can take minutes.
constexpr absl::Duration kToolTimeout = absl::Minutes(10);

absl::Status OpenError(int err, const std::string& device) {
  return ErrnoStatus(err, absl::StrCat("open ", device), kOpenErrnoCodes,
                     absl::StatusCode::kInternal);
}

}  // namespace

RealFsTools::RealFsTools(CommandRunner* runner) : runner_(runner) {}

absl::StatusOr<std::string> RealFsTools::Probe(const std::string& device) {
  // Opened here rather than by libblkid, so that a missing device has its
  // errno and is told apart from a failed probe.
  const int fd = open(device.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return OpenError(errno, device);
  blkid_probe probe = blkid_new_probe();
  if (probe == nullptr) {
    close(fd);
    return absl::ResourceExhaustedError(
        absl::StrCat("probe ", device, ": blkid_new_probe failed"));
  }
  absl::StatusOr<std::string> result;
  if (blkid_probe_set_device(probe, fd, 0, 0) != 0) {
    result = absl::InternalError(
        absl::StrCat("probe ", device, ": blkid_probe_set_device failed"));
  } else {
    blkid_probe_enable_superblocks(probe, 1);
    // BADCSUM: a filesystem with a damaged superblock checksum still counts
    // as a filesystem, never as a blank device that may be formatted.
    blkid_probe_set_superblocks_flags(probe,
                                      BLKID_SUBLKS_TYPE | BLKID_SUBLKS_BADCSUM);
    blkid_probe_enable_partitions(probe, 1);
    const int rc = blkid_do_safeprobe(probe);
    const char* value = nullptr;
    switch (rc) {
      case 0:
        if (blkid_probe_lookup_value(probe, "TYPE", &value, nullptr) == 0 ||
            blkid_probe_lookup_value(probe, "PTTYPE", &value, nullptr) == 0) {
          result = std::string(value);
        } else {
          // Something was found but has no type: not blank either.
          result = absl::InternalError(absl::StrCat(
              "probe ", device, ": a signature was found without a type"));
        }
        break;
      case 1:
        result = std::string();
        break;
      case -2:
        result = absl::InternalError(
            absl::StrCat("probe ", device, ": ambiguous signatures"));
        break;
      default:
        result = absl::InternalError(absl::StrCat(
            "probe ", device, ": blkid_do_safeprobe failed (", rc, ")"));
        break;
    }
  }
  blkid_free_probe(probe);
  close(fd);
  return result;
}

absl::Status RealFsTools::RunTool(std::vector<std::string> argv) {
  Command command;
  command.argv = std::move(argv);
  command.timeout = kToolTimeout;
  absl::StatusOr<CommandResult> result = runner_->Run(command);
  if (!result.ok()) {
    // A missing tool is this host's fault, not the caller's: never NOT_FOUND,
    // which would read as a missing device.
    return absl::InternalError(
        absl::StrCat(command.argv[0], ": ", result.status().message()));
  }
  if (!result->Succeeded()) {
    return absl::InternalError(DescribeFailure(command, *result));
  }
  return absl::OkStatus();
}

absl::Status RealFsTools::MakeFs(const std::string& device,
                                 const std::string& fs_type) {
  std::vector<std::string> argv;
  if (fs_type == "ext4") {
    // nodiscard: new images are sparse and read as zeros already. Lazy
    // inode table and journal init keep mkfs fast; the kernel zeroes them
    // in the background after the first mount.
    argv = {"mkfs.ext4",
            "-q",
            "-F",
            "-E",
            "nodiscard,lazy_itable_init=1,lazy_journal_init=1",
            device};
  } else if (fs_type == "xfs") {
    // -K: no discard, as above. No -f: mkfs.xfs refuses a device that holds
    // a signature, a last guard behind the caller's Probe.
    argv = {"mkfs.xfs", "-q", "-K", device};
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported filesystem type \"", fs_type, "\" for ",
                     device, " (ext4 or xfs)"));
  }
  // mke2fs turns a missing path into a confusing message; say it plainly.
  struct stat st;
  if (stat(device.c_str(), &st) != 0) return OpenError(errno, device);
  return RunTool(std::move(argv));
}

absl::Status RealFsTools::GrowFs(const std::string& device,
                                 const std::string& mount_path,
                                 const std::string& fs_type) {
  if (fs_type == "ext4") {
    // resize2fs grows a mounted ext4 online, finding the mount itself.
    return RunTool({"resize2fs", device});
  }
  if (fs_type == "xfs") {
    // xfs grows only mounted, by its mount point; -d: the data section, to
    // the whole device.
    return RunTool({"xfs_growfs", "-d", mount_path});
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cannot grow filesystem type \"", fs_type, "\" on ", device,
                   " (ext4 or xfs)"));
}

absl::Status RealFsTools::GrowFsOffline(const std::string& device,
                                        const std::string& fs_type) {
  if (fs_type != "ext4") return absl::OkStatus();
  Command check;
  check.argv = {"e2fsck", "-f", "-p", device};
  check.timeout = kToolTimeout;
  absl::StatusOr<CommandResult> checked = runner_->Run(check);
  if (!checked.ok()) {
    return absl::InternalError(
        absl::StrCat("e2fsck: ", checked.status().message()));
  }
  // 0: clean; 1: errors corrected (e.g. the journal of a snapshot taken
  // while mounted was replayed). Anything else needs a person.
  if (checked->term_signal != 0 || checked->exit_code > 1) {
    return absl::InternalError(DescribeFailure(check, *checked));
  }
  return RunTool({"resize2fs", device});
}

absl::StatusOr<uint64_t> RealFsTools::DeviceSize(const std::string& device) {
  const int fd = open(device.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return OpenError(errno, device);
  uint64_t size = 0;
  const int rc = ioctl(fd, BLKGETSIZE64, &size);
  const int err = errno;
  close(fd);
  if (rc != 0) {
    const std::string message =
        absl::StrCat("BLKGETSIZE64 ", device, ": ", strerror(err));
    // ENOTTY: not a block device.
    if (err == ENOTTY || err == EINVAL) {
      return absl::InvalidArgumentError(message);
    }
    return absl::InternalError(message);
  }
  return size;
}

}  // namespace cellar

namespace cellar {

absl::Status RealFsTools::Freeze(const std::string& mount_path) {
  const int fd = open(mount_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", mount_path));
  const int rc = ioctl(fd, FIFREEZE, 0);
  const int err = errno;
  close(fd);
  if (rc != 0) {
    return absl::ErrnoToStatus(err, absl::StrCat("freeze ", mount_path));
  }
  return absl::OkStatus();
}

absl::Status RealFsTools::Thaw(const std::string& mount_path) {
  const int fd = open(mount_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", mount_path));
  const int rc = ioctl(fd, FITHAW, 0);
  const int err = errno;
  close(fd);
  if (rc != 0 && err != EINVAL) {  // EINVAL: it was not frozen
    return absl::ErrnoToStatus(err, absl::StrCat("thaw ", mount_path));
  }
  return absl::OkStatus();
}

}  // namespace cellar
