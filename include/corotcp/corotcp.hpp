// corotcp/corotcp.hpp: everything a user of the in-memory stack needs, in one include.
#pragma once

#include "corotcp/util/error.hpp"
#include "corotcp/util/expected.hpp"
#include "corotcp/util/time.hpp"
#include "corotcp/wire/ipv4.hpp"
#include "corotcp/wire/print.hpp"
#include "corotcp/tcp/state.hpp"
#include "corotcp/tcp/tcb.hpp"
#include "corotcp/iface/interface.hpp"
#include "corotcp/link/memory_pipe.hpp"
#include "corotcp/link/pcap.hpp"
#include "corotcp/link/tracer.hpp"
#include "corotcp/async/task.hpp"
#include "corotcp/async/run_loop.hpp"
#include "corotcp/async/notifier.hpp"
#include "corotcp/async/stack.hpp"
#include "corotcp/async/memory_pair.hpp"
