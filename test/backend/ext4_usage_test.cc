// ParseDumpe2fs on canned dumpe2fs output, and one round trip through the
// real e2fsprogs: a filesystem copied by its used ranges alone onto zeroes
// checks clean and holds the same file.
#include "src/backend/ext4_usage.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "test/testing/shell.h"

namespace cellar {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Output of `dumpe2fs` (e2fsprogs 1.47.0) for a 20 MiB ext4 with 1 KiB
// blocks and one 300000-byte file: three groups, block 0 below "First
// block: 1", a header line "Free blocks: 17542" that is no free list.
std::string OneKibDump() {
  return ReadFile("test/backend/testdata/dumpe2fs_1k_blocks.txt");
}

TEST(ParseDumpe2fsTest, UsedRangesOfARealDump) {
  const std::string text = OneKibDump();
  ASSERT_FALSE(text.empty());
  absl::StatusOr<Ext4Usage> usage = ParseDumpe2fs(text);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->block_bytes, 1024u);
  EXPECT_EQ(usage->block_count, 20480u);
  EXPECT_FALSE(usage->needs_recovery);
  // Free: 1753-8192, 9378-16384, 16385-20479. Used: 0-1752, 8193-9377.
  ASSERT_EQ(usage->used.size(), 2u);
  EXPECT_EQ(usage->used[0], (ByteRange{0, 1753 * 1024}));
  EXPECT_EQ(usage->used[1], (ByteRange{8193 * 1024, 1185 * 1024}));
  // The superblock's own count of free blocks agrees.
  EXPECT_EQ(usage->used_bytes(), (20480u - 17542u) * 1024u);
}

TEST(ParseDumpe2fsTest, Table) {
  const std::string head =
      "Filesystem features:      has_journal extent 64bit\n"
      "Block count:              100\n"
      "Free blocks:              3\n"
      "First block:              0\n"
      "Block size:               4096\n"
      "\n";
  struct Case {
    std::string name;
    std::string text;
    std::vector<ByteRange> used;  // when it parses
    bool ok;
  };
  const std::vector<Case> cases = {
      {"single blocks and ranges, a group with nothing free",
       head + "Group 0: (Blocks 0-49)\n"
              "  Free blocks: 10, 12-19\n"
              "  Free inodes: 12-100\n"
              "Group 1: (Blocks 50-99)\n"
              "  Free blocks: \n",
       {{0, 10 * 4096}, {11 * 4096, 4096}, {20 * 4096, 80 * 4096}},
       true},
      {"free runs across groups merge the used ones between",
       head + "Group 0: (Blocks 0-49)\n"
              "  Free blocks: 40-49\n"
              "Group 1: (Blocks 50-99)\n"
              "  Free blocks: 50-99\n",
       {{0, 40 * 4096}},
       true},
      {"everything used",
       head + "Group 0: (Blocks 0-99)\n  Free blocks: \n",
       {{0, 100 * 4096}},
       true},
      {"no groups", head, {}, false},
      {"no block size",
       absl::StrReplaceAll(head, {{"Block size:", "Bluck size:"}}) +
           "Group 0:\n  Free blocks: 1\n",
       {},
       false},
      {"garbage in a free list",
       head + "Group 0:\n  Free blocks: 5-x\n",
       {},
       false},
      {"reversed range", head + "Group 0:\n  Free blocks: 9-5\n", {}, false},
      {"beyond the block count",
       head + "Group 0:\n  Free blocks: 90-100\n",
       {},
       false},
      {"block 0 free (a superblock lives there)",
       head + "Group 0:\n  Free blocks: 0-5\n",
       {},
       false},
      {"overlapping ranges",
       head + "Group 0:\n  Free blocks: 5-9, 8-12\n",
       {},
       false},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Ext4Usage> usage = ParseDumpe2fs(c.text);
    ASSERT_EQ(usage.ok(), c.ok) << c.name << ": " << usage.status();
    if (!c.ok) {
      EXPECT_EQ(usage.status().code(), absl::StatusCode::kInvalidArgument)
          << c.name;
      continue;
    }
    EXPECT_EQ(usage->used, c.used) << c.name;
  }
}

// Short free runs count as used: the list of ranges stays short on a
// fragmented filesystem; long ones are still skipped, and bad ranges are
// still refused even when short.
TEST(ParseDumpe2fsTest, ShortFreeRunsAreCopied) {
  const std::string text =
      "Block count:              100\n"
      "First block:              0\n"
      "Block size:               4096\n"
      "Group 0: (Blocks 0-99)\n"
      "  Free blocks: 10, 12-19, 40-49, 60-66\n";
  absl::StatusOr<Ext4Usage> usage = ParseDumpe2fs(text, 8 * 4096);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->used, (std::vector<ByteRange>{{0, 12 * 4096},
                                                 {20 * 4096, 20 * 4096},
                                                 {50 * 4096, 50 * 4096}}));
  EXPECT_FALSE(
      ParseDumpe2fs(absl::StrReplaceAll(text, {{"10, ", "0, "}}), 8 * 4096)
          .ok());
  EXPECT_FALSE(
      ParseDumpe2fs(absl::StrReplaceAll(text, {{"60-66", "99-100"}}), 8 * 4096)
          .ok());
}

TEST(ParseDumpe2fsTest, BlocksBelowTheFirstBlockAreUsed) {
  const std::string text =
      "Block count:              50\n"
      "First block:              1\n"
      "Block size:               1024\n"
      "Group 0: (Blocks 1-49)\n"
      "  Free blocks: 1-49\n";
  // Block 1 is where a 1 KiB-block superblock lives: never free.
  EXPECT_FALSE(ParseDumpe2fs(text).ok());
  absl::StatusOr<Ext4Usage> usage = ParseDumpe2fs(
      absl::StrReplaceAll(text, {{"Free blocks: 1-49", "Free blocks: 2-49"}}));
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->used, (std::vector<ByteRange>{{0, 2 * 1024}}));
}

TEST(ParseDumpe2fsTest, AJournalToReplayIsReported) {
  std::string text = absl::StrReplaceAll(
      OneKibDump(),
      {{"has_journal ext_attr", "has_journal ext_attr needs_recovery"}});
  absl::StatusOr<Ext4Usage> usage = ParseDumpe2fs(text);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_TRUE(usage->needs_recovery);
}

// ---------------------------------------------------------------- real tools

int ExitCode(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

using testing::Shell;

// The reason the parser exists: copying only what it calls used must give
// the same filesystem. e2fsprogs is a dependency of the driver.
TEST(ParseDumpe2fsTest, CopyingOnlyUsedRangesKeepsTheFilesystem) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/ext4_usage_test");
  ASSERT_EQ(
      ExitCode(absl::StrCat("rm -rf ", dir, " && mkdir -p ", dir, "/root/sub")),
      0);
  // Files of several sizes, one sparse, one in a subdirectory.
  ASSERT_EQ(ExitCode(absl::StrCat(
                "head -c 3000000 /dev/urandom > ", dir, "/root/big && ",
                "head -c 5000 /dev/urandom > ", dir, "/root/sub/small && ",
                "truncate -s 9M ", dir, "/root/sparse && ",
                "printf tail | dd of=", dir,
                "/root/sparse bs=1 seek=8000000 conv=notrunc status=none")),
            0);
  const std::string image = dir + "/fs.img";
  const std::string copy = dir + "/copy.img";
  ASSERT_EQ(ExitCode(absl::StrCat("truncate -s 64M ", image,
                                  " && PATH=$PATH:/sbin:/usr/sbin "
                                  "mkfs.ext4 -q -b 4096 -d ",
                                  dir, "/root ", image)),
            0);
  const std::string dump = Shell(absl::StrCat(
      "LC_ALL=C PATH=$PATH:/sbin:/usr/sbin dumpe2fs ", image, " 2>/dev/null"));
  absl::StatusOr<Ext4Usage> usage = ParseDumpe2fs(dump);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->block_bytes * usage->block_count, 64u << 20);
  // The files (12 MiB apparent, ~3 MiB written) and metadata, far from all.
  EXPECT_GT(usage->used_bytes(), 3000000u);
  EXPECT_LT(usage->used_bytes(), 16u << 20);

  const std::string bytes = ReadFile(image);
  ASSERT_EQ(bytes.size(), 64u << 20);
  std::string zeroes(bytes.size(), '\0');
  for (const ByteRange& range : usage->used) {
    zeroes.replace(range.offset, range.length, bytes, range.offset,
                   range.length);
  }
  const std::string sbin = "PATH=$PATH:/sbin:/usr/sbin ";
  // Whether `image_bytes`, written to `copy`, checks clean and holds every
  // file as it was.
  auto intact = [&](const std::string& image_bytes) {
    {
      std::ofstream out(copy, std::ios::binary | std::ios::trunc);
      out.write(image_bytes.data(),
                static_cast<std::streamsize>(image_bytes.size()));
    }
    if (ExitCode(absl::StrCat(sbin, "e2fsck -fn ", copy, " >/dev/null 2>&1")) !=
        0) {
      return false;
    }
    for (const std::string file : {"big", "sub/small", "sparse"}) {
      if (Shell(absl::StrCat(sbin, "debugfs -R 'cat /", file, "' ", copy,
                             " 2>/dev/null")) !=
          ReadFile(absl::StrCat(dir, "/root/", file))) {
        return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(intact(zeroes));
  // As the driver parses it (free runs under 1 MiB copied): more is copied,
  // in fewer ranges, and the copy is as good.
  absl::StatusOr<Ext4Usage> coarse = ParseDumpe2fs(dump, 1 << 20);
  ASSERT_TRUE(coarse.ok()) << coarse.status();
  EXPECT_LE(coarse->used.size(), usage->used.size());
  EXPECT_GE(coarse->used_bytes(), usage->used_bytes());
  std::string coarse_copy(bytes.size(), '\0');
  for (const ByteRange& range : coarse->used) {
    coarse_copy.replace(range.offset, range.length, bytes, range.offset,
                        range.length);
  }
  EXPECT_TRUE(intact(coarse_copy));
  // And the check can fail: without any one used range the copy is broken.
  for (const ByteRange& range : usage->used) {
    std::string without = zeroes;
    without.replace(range.offset, range.length,
                    std::string(range.length, '\0'));
    EXPECT_FALSE(intact(without))
        << "the copy is intact without " << range.offset << "+" << range.length;
  }
  ExitCode(absl::StrCat("rm -rf ", dir));
}

}  // namespace
}  // namespace cellar
