#ifndef CELLAR_TEST_FAKES_FAKE_BLOCK_COPIER_H_
#define CELLAR_TEST_FAKES_FAKE_BLOCK_COPIER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/platform/block_copier.h"

namespace cellar {

// Devices as strings of bytes. Copy copies the bytes of the ranges (the
// target grows to hold them), records each call, and can be held: while
// held, copies wait (still honouring `cancel`) until Release.
class FakeBlockCopier final : public BlockCopier {
 public:
  struct Call {
    std::string from, to;
    std::vector<ByteRange> ranges;
    uint64_t bytes_per_second = 0;
  };

  FakeBlockCopier() = default;
  FakeBlockCopier(const FakeBlockCopier&) = delete;
  FakeBlockCopier& operator=(const FakeBlockCopier&) = delete;

  void SetContent(const std::string& device, std::string bytes);
  std::string Content(const std::string& device) const;
  // The next copy fails with `status` (once).
  void FailNext(absl::Status status);
  void Hold();
  void Release();
  // Copies started (waiting or not) and finished, successfully or not.
  int started() const;
  int finished() const;
  std::vector<Call> calls() const;

  absl::StatusOr<uint64_t> Copy(const std::string& from, const std::string& to,
                                const std::vector<ByteRange>& ranges,
                                const CopyOptions& options) override;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> devices_ ABSL_GUARDED_BY(mu_);
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_next_ ABSL_GUARDED_BY(mu_);
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int finished_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cellar

#endif  // CELLAR_TEST_FAKES_FAKE_BLOCK_COPIER_H_
