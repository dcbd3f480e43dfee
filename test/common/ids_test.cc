// The CSI driver name rule: what GetPluginInfo reports and the metrics
// page labels with.
#include "src/common/ids.h"

#include <string>

#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(IdsTest, DriverNames) {
  for (const char* good : {"cellar.csi.io", "a", "A9", "x-y.z", "0.0"}) {
    EXPECT_TRUE(IsValidDriverName(good)) << good;
  }
  const std::string long_name(64, 'a');
  for (const std::string& bad :
       {std::string(""), std::string("-a"), std::string("a-"),
        std::string(".a"), std::string("a_b"), std::string("a b"),
        std::string("a\"b"), std::string("a\nb"), std::string("a\rb"),
        std::string("caf\xc3\xa9"), std::string("\xff"), long_name}) {
    EXPECT_FALSE(IsValidDriverName(bad)) << bad;
  }
  EXPECT_TRUE(IsValidDriverName(std::string(63, 'a')));
}

}  // namespace
}  // namespace cellar
