#include "test/fakes/fake_block_copier.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "src/common/status_macros.h"

namespace cellar {

void FakeBlockCopier::SetContent(const std::string& device, std::string bytes) {
  absl::MutexLock lock(&mu_);
  devices_[device] = std::move(bytes);
}

std::string FakeBlockCopier::Content(const std::string& device) const {
  absl::MutexLock lock(&mu_);
  auto it = devices_.find(device);
  return it == devices_.end() ? "" : it->second;
}

void FakeBlockCopier::FailNext(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_next_ = std::move(status);
}

void FakeBlockCopier::Hold() {
  absl::MutexLock lock(&mu_);
  held_ = true;
}

void FakeBlockCopier::Release() {
  absl::MutexLock lock(&mu_);
  held_ = false;
}

int FakeBlockCopier::started() const {
  absl::MutexLock lock(&mu_);
  return started_;
}

int FakeBlockCopier::finished() const {
  absl::MutexLock lock(&mu_);
  return finished_;
}

std::vector<FakeBlockCopier::Call> FakeBlockCopier::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

absl::StatusOr<uint64_t> FakeBlockCopier::Copy(
    const std::string& from, const std::string& to,
    const std::vector<ByteRange>& ranges, const CopyOptions& options) {
  uint64_t copied = 0;
  {
    absl::MutexLock lock(&mu_);
    ++started_;
    calls_.push_back(Call{from, to, ranges, options.bytes_per_second});
    auto cancelled = [&] {
      return options.cancel != nullptr && options.cancel->load();
    };
    // Wake up now and then to look at `cancel`, which is no Mutex condition.
    while (held_ && !cancelled()) {
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](bool* held) { return !*held; }, &held_),
                           absl::Milliseconds(5));
    }
    ++finished_;
    if (cancelled()) return absl::CancelledError("copy cancelled");
    if (!fail_next_.ok()) {
      absl::Status status = fail_next_;
      fail_next_ = absl::OkStatus();
      return status;
    }
    const std::string source = devices_[from];
    std::string& target = devices_[to];
    for (const ByteRange& range : ranges) {
      if (range.offset >= source.size()) continue;
      const uint64_t n =
          std::min<uint64_t>(range.length, source.size() - range.offset);
      if (target.size() < range.offset + n) {
        target.resize(range.offset + n, '\0');
      }
      target.replace(range.offset, n, source, range.offset, n);
      copied += n;
    }
  }
  // Outside the lock: the callback may run commands of its own.
  if (options.progress) {
    ABSL_RETURN_IF_ERROR(options.progress(copied));
  }
  return copied;
}

}  // namespace cellar
