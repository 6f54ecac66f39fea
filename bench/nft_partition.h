// Kernel partitions for the convergence experiment's --netns mode: one
// nftables table whose output chain drops every packet between the
// loopback addresses (127.0.0.(10+K) for node nK) of different groups.
// Needs root inside the experiment's own network namespace.
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace gossipkv {

Status NftPartition(const std::vector<std::vector<std::string>>& groups);
Status NftHeal();

}  // namespace gossipkv
