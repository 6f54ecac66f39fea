// ConflictMode: what a key keeps of concurrent writes, chosen in the config
// and used by Entry's write and merge (versioning/entry.h). A plain enum
// with no dependencies, so config/ can name it without linking
// versioning/; any thread.
#pragma once

namespace gossipkv {

enum class ConflictMode {
  kSiblings,       // keep every concurrent write (default: loses nothing)
  kLastWriteWins,  // a register: only the highest (timestamp, dot) survives,
                   // causality aside, as in Cassandra; a coordinator bumps a
                   // write's timestamp past the value it replaces
};

}  // namespace gossipkv
