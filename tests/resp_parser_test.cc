// RespParser: multibulk and inline requests fed whole, in chunks and byte by
// byte; every limit and every kind of framing garbage.
#include "server/resp_parser.h"

#include <gtest/gtest.h>

#include "util/random.h"

namespace gossipkv {
namespace {

using namespace std::string_literals;
using Args = std::vector<std::string>;
using Outcome = RespParser::Outcome;

// Feeds `input` in pieces of `chunk` bytes (0: all at once) and collects
// every command until the input is used up or an error occurs.
struct Parsed {
  std::vector<Args> commands;
  std::string error;
};
Parsed ParseAll(std::string_view input, size_t chunk, RespLimits limits = {}) {
  RespParser parser(limits);
  Parsed result;
  size_t pos = 0;
  do {
    size_t n = chunk == 0 ? input.size() : std::min(chunk, input.size() - pos);
    parser.Feed(input.substr(pos, n));
    pos += n;
    Args args;
    while (true) {
      Outcome o = parser.Next(args, result.error);
      if (o == Outcome::kNeedMore) break;
      if (o == Outcome::kError) return result;
      result.commands.push_back(args);
    }
  } while (pos < input.size());
  return result;
}

const std::string kPipeline =
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
    "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
    "PING\r\n"
    "\r\n"
    "set \"with space\" 'single' plain\n"
    "*2\r\n$4\r\nECHO\r\n$6\r\na\r\n\0b\xff\r\n"s;
const std::vector<Args> kExpected = {
    {"SET", "key", "value"},
    {"GET", "key"},
    {"PING"},
    {"set", "with space", "single", "plain"},
    {"ECHO", std::string("a\r\n\0b\xff", 6)},
};

TEST(RespParserTest, WholeChunkedAndByteByByteAgree) {
  const std::string input(kPipeline.data(), kPipeline.size());
  for (size_t chunk : {0, 1, 2, 3, 7, 64}) {
    Parsed p = ParseAll(input, chunk);
    EXPECT_EQ(p.error, "") << "chunk " << chunk;
    EXPECT_EQ(p.commands, kExpected) << "chunk " << chunk;
  }
}

TEST(RespParserTest, RandomChunkingOfALargePipeline) {
  std::string input;
  std::vector<Args> expected;
  Random random(17);
  for (int i = 0; i < 500; ++i) {
    std::string value(random.Uniform(3000), static_cast<char>('a' + i % 26));
    input += "*3\r\n$3\r\nSET\r\n$" + std::to_string(std::to_string(i).size()) +
             "\r\n" + std::to_string(i) + "\r\n$" +
             std::to_string(value.size()) + "\r\n" + value + "\r\n";
    expected.push_back({"SET", std::to_string(i), value});
  }
  RespParser parser({});
  std::vector<Args> got;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t n = std::min<size_t>(1 + random.Uniform(5000), input.size() - pos);
    parser.Feed(std::string_view(input).substr(pos, n));
    pos += n;
    Args args;
    std::string error;
    Outcome o;
    while ((o = parser.Next(args, error)) == Outcome::kCommand)
      got.push_back(args);
    ASSERT_EQ(o, Outcome::kNeedMore) << error;
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(parser.buffered_bytes(), 0u);
}

TEST(RespParserTest, InlineQuotingAndEscapes) {
  Args args;
  ASSERT_TRUE(SplitInlineArgs(R"(SET k "a\x41\n\"q\"" 'it\'s')", args));
  EXPECT_EQ(args, (Args{"SET", "k", "aA\n\"q\"", "it's"}));
  EXPECT_FALSE(SplitInlineArgs(R"(SET "unterminated)", args));
  EXPECT_FALSE(SplitInlineArgs(R"(SET "a"b)", args));
  ASSERT_TRUE(SplitInlineArgs("   ", args));
  EXPECT_TRUE(args.empty());
}

void ExpectError(std::string_view input, std::string_view fragment,
                 RespLimits limits = {}) {
  for (size_t chunk : {0, 1, 1000}) {
    Parsed p = ParseAll(input, chunk, limits);
    EXPECT_NE(p.error.find(fragment), std::string::npos)
        << "input '" << input.substr(0, 40) << "' chunk " << chunk << " gave '"
        << p.error << "'";
  }
}

TEST(RespParserTest, HugeBulkLengthIsRejectedBeforeAllocating) {
  RespLimits limits;
  limits.max_bulk_bytes = 1024;
  ExpectError("*2\r\n$3\r\nGET\r\n$4294967295\r\n", "max 1024 bytes", limits);
  ExpectError("*1\r\n$99999999999999999999999\r\n", "invalid bulk length",
              limits);
}

TEST(RespParserTest, NegativeAndMalformedLengths) {
  ExpectError("*2\r\n$3\r\nGET\r\n$-1\r\n", "invalid bulk length");
  ExpectError("*-5\r\n", "invalid multibulk length");
  ExpectError("*x\r\n", "invalid multibulk length");
  ExpectError("*1\r\n:3\r\n", "expected '$'");
  ExpectError("*1\r\n$3\r\nabcXY", "not terminated by CRLF");
  Parsed p = ParseAll("*1\r\n$3", 0);  // incomplete is not an error...
  EXPECT_EQ(p.error, "");              // ...it waits for more
  EXPECT_TRUE(p.commands.empty());
}

TEST(RespParserTest, TooManyArguments) {
  RespLimits limits;
  limits.max_arguments = 1000;
  ExpectError("*1000000\r\n", "too many arguments (max 1000)", limits);
  std::string inline_args = "SET";
  for (int i = 0; i < 1001; ++i) inline_args += " x";
  ExpectError(inline_args + "\r\n", "too many arguments (max 1000)", limits);
}

TEST(RespParserTest, RequestBytesAreBoundedAcrossArguments) {
  RespLimits limits;
  limits.max_bulk_bytes = 100;
  limits.max_request_bytes = 150;
  Parsed at_limit =
      ParseAll("*2\r\n$3\r\nGET\r\n$100\r\n" + std::string(100, 'k') + "\r\n",
               1, limits);
  EXPECT_EQ(at_limit.error, "");
  ASSERT_EQ(at_limit.commands.size(), 1u) << "exactly at the limits is fine";
  std::string two_bulks =
      "*3\r\n$3\r\nSET\r\n$80\r\n" + std::string(80, 'k') + "\r\n$80\r\n";
  ExpectError(two_bulks, "request too large (max 150 bytes)", limits);
}

TEST(RespParserTest, EndlessInlineLineIsCut) {
  RespLimits limits;
  limits.max_inline_bytes = 4096;
  RespParser parser(limits);
  std::string chunk(1 << 20, 'a');
  Args args;
  std::string error;
  Outcome o = Outcome::kNeedMore;
  for (int i = 0; i < 100 && o == Outcome::kNeedMore; ++i) {  // up to 100 MiB
    parser.Feed(chunk);
    o = parser.Next(args, error);
  }
  EXPECT_EQ(o, Outcome::kError);
  EXPECT_NE(error.find("max 4096 bytes"), std::string::npos);
  EXPECT_LE(parser.buffered_bytes(), size_t{2} << 20) << "buffer stays bounded";
  // After an error the parser stays failed: the connection must close.
  parser.Feed("PING\r\n");
  EXPECT_EQ(parser.Next(args, error), Outcome::kError);
}

TEST(RespParserTest, EndlessMultibulkHeaderIsCut) {
  ExpectError("*" + std::string(1000, '1'), "invalid multibulk length");
  ExpectError("*1\r\n$" + std::string(1000, '1'), "invalid bulk length");
}

// "*0" is skipped, and the request after it may be of either kind, a blank
// line included.
TEST(RespParserTest, EmptyMultibulkThenBlankLineOrInline) {
  for (size_t chunk : {0, 1, 3}) {
    Parsed blank = ParseAll("*0\r\n\n\0\0\0"s, chunk);
    EXPECT_EQ(blank.error, "") << "chunk " << chunk;
    EXPECT_EQ(blank.commands, std::vector<Args>{}) << "chunk " << chunk;
    Parsed p = ParseAll("*0\r\n\r\nPING\r\n*0\r\n*1\r\n$4\r\nPONG\r\n", chunk);
    EXPECT_EQ(p.error, "") << "chunk " << chunk;
    EXPECT_EQ(p.commands, (std::vector<Args>{{"PING"}, {"PONG"}}))
        << "chunk " << chunk;
  }
}

}  // namespace
}  // namespace gossipkv
