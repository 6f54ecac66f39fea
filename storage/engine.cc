// Helpers shared by every Engine implementation.
#include "storage/engine.h"

namespace gossipkv {

std::string PrefixSuccessor(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last != 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return end;
}

Status EngineReader::ScanPrefix(Column column, std::string_view prefix,
                                const ScanVisitor& visit) {
  return Scan(column, prefix, PrefixSuccessor(prefix), visit);
}

}  // namespace gossipkv
