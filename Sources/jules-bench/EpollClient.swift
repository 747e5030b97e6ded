#if canImport(Glibc)
    import CEpoll
    import Foundation
    import Glibc
    import NIOConcurrencyHelpers
    import NIOCore

    /// The load of ``SocketBench`` on plain `epoll(7)`: one thread per group of connections, a `read(2)` and a
    /// `write(2)` per request, nothing else.
    ///
    /// Closed loop (the default): each connection sends its next request as soon as the answer to the last one has
    /// arrived, so the server runs flat out and the latency is mostly the queue of `connections` requests.
    ///
    /// Open loop (`rate`): requests are due at a fixed rate, spread evenly over the connections (each still with at
    /// most one in flight), and each latency is counted from when its request was due, not from when it could be
    /// sent. A server that falls behind therefore shows its backlog in the latency instead of hiding it by slowing
    /// the client down (the "coordinated omission" of a closed loop).
    ///
    /// On a two-core machine the load generator shares the cores with the server it measures, so every microsecond
    /// it spends per request is taken from the server and shows as the server's latency. SwiftNIO's channel pipeline
    /// costs the client about 8 µs per request here; this loop costs what the two system calls cost. The server and
    /// the reference (`redis-server`) are measured by the same loop, as before.
    final class EpollClient: Sendable {
        struct Failure: Error, CustomStringConvertible {
            var description: String
        }

        private let socketPath: String
        private let requests: [[UInt8]]
        private let jsonRPC: Bool
        private let run: BenchRun
        /// Requests per second over all connections (open loop), or `nil` for a closed loop.
        private let rate: Double?
        private let stopped = NIOLockedValueBox(false)
        /// Threads started and threads finished.
        private let threads = NIOLockedValueBox((started: 0, finished: 0))

        init(socketPath: String, requests: [[UInt8]], jsonRPC: Bool, run: BenchRun, rate: Double? = nil) {
            self.socketPath = socketPath
            self.requests = requests
            self.jsonRPC = jsonRPC
            self.run = run
            self.rate = rate
        }

        /// Opens `connections` connections, spread over `threads` threads, and loads them until ``stop()``: one
        /// request in flight on each (closed loop), or requests at the rate given (open loop).
        func start(connections: Int, threads count: Int) throws {
            var groups = Array(repeating: [Connection](), count: count)
            // Open loop: each connection sends every `interval`; connection i starts i/connections of an interval
            // after the first, so that together they send evenly spaced requests.
            let interval = rate.map { UInt64((Double(connections) / $0 * 1e9).rounded()) }
            var opened: [Connection] = []
            for index in 0..<connections {
                let own = stride(from: index % requests.count, to: requests.count, by: connections).map { requests[$0] }
                opened.append(Connection(descriptor: try connect(), requests: own))
            }
            // The schedule starts once every connection is open (a millisecond on, for the threads to start), so the
            // first requests are not counted late by the time it took to connect.
            let start = Clock.now() + 1_000_000
            for (index, connection) in opened.enumerated() {
                if let interval { connection.dueAt = start + interval * UInt64(index) / UInt64(connections) }
                groups[index % count].append(connection)
            }
            let loops = try groups.map {
                try Loop(connections: $0, interval: interval, jsonRPC: jsonRPC, run: run, stopped: stopped)
            }
            for loop in loops {
                threads.withLockedValue { $0.started += 1 }
                Thread.detachNewThread { [threads] in
                    loop.run()
                    threads.withLockedValue { $0.finished += 1 }
                }
            }
        }

        /// Stops every loop and waits until each has closed its connections.
        func stop() async {
            stopped.withLockedValue { $0 = true }
            while threads.withLockedValue({ $0.finished < $0.started }) {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }

        private func connect() throws -> Int32 {
            let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let path = Array(socketPath.utf8)
            guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
                close(descriptor)
                throw Failure(description: "socket path too long: \(socketPath)")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { bytes in
                bytes.copyBytes(from: path)
                bytes[path.count] = 0
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard connected == 0 else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw Failure(description: "connect \(socketPath): \(reason)")
            }
            let flags = fcntl(descriptor, F_GETFL)
            _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
            return descriptor
        }

        /// CLOCK_MONOTONIC in nanoseconds: the clock of the latencies and of the open loop's timer, and the one
        /// `NIODeadline.now()` reads on Linux, which times the measured window.
        enum Clock {
            static func now() -> UInt64 {
                var time = timespec()
                clock_gettime(CLOCK_MONOTONIC, &time)
                return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
            }
        }

        /// One connection's requests and what has arrived of its current response.
        final class Connection {
            let descriptor: Int32
            let requests: [[UInt8]]
            var next = 0
            /// When the request in flight was sent (closed loop) or due (open loop): its latency counts from here.
            var startedAt: UInt64 = 0
            /// Open loop: when the next request is due.
            var dueAt: UInt64 = 0
            var inFlight = false
            /// Lost: no longer watched or sent to.
            var closed = false
            var pending = ByteBuffer()

            init(descriptor: Int32, requests: [[UInt8]]) {
                self.descriptor = descriptor
                self.requests = requests
            }
        }

        /// One thread's connections and its epoll instance. Used by that thread only, once started.
        final class Loop: @unchecked Sendable {
            // Unchecked: built on the starting thread, then handed to exactly one thread (its `Thread` closure), which
            // is the only one that touches it; `stopped` and `run` are themselves thread-safe.
            private let connections: [Connection]
            private let epoll: Int32
            /// Open loop: the time between two requests of one connection, and the timer that wakes the loop when
            /// the next one is due (a timerfd, for sub-millisecond precision, which epoll_wait's timeout lacks).
            private let interval: UInt64?
            private let timer: Int32
            private var timerArmedAt: UInt64 = 0
            private static let timerEvent = UInt64.max
            private let jsonRPC: Bool
            private let bench: BenchRun
            private let stopped: NIOLockedValueBox<Bool>

            init(
                connections: [Connection],
                interval: UInt64?,
                jsonRPC: Bool,
                run: BenchRun,
                stopped: NIOLockedValueBox<Bool>
            ) throws {
                self.connections = connections
                self.interval = interval
                self.jsonRPC = jsonRPC
                self.bench = run
                self.stopped = stopped
                epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
                guard epoll >= 0 else {
                    throw Failure(description: "epoll_create1: \(String(cString: strerror(errno)))")
                }
                for (index, connection) in connections.enumerated() {
                    var event = epoll_event()
                    event.events = EPOLLIN.rawValue
                    event.data.u64 = UInt64(index)
                    guard epoll_ctl(epoll, EPOLL_CTL_ADD, connection.descriptor, &event) == 0 else {
                        throw Failure(description: "epoll_ctl: \(String(cString: strerror(errno)))")
                    }
                }
                timer = interval == nil ? -1 : timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
                if interval != nil {
                    var event = epoll_event()
                    event.events = EPOLLIN.rawValue
                    event.data.u64 = Self.timerEvent
                    guard timer >= 0, epoll_ctl(epoll, EPOLL_CTL_ADD, timer, &event) == 0 else {
                        throw Failure(description: "timerfd: \(String(cString: strerror(errno)))")
                    }
                }
            }

            func run() {
                defer {
                    for connection in connections { close(connection.descriptor) }
                    close(epoll)
                    if timer >= 0 { close(timer) }
                }
                var open = connections.count
                if interval == nil {
                    for connection in connections where !send(connection) {
                        lose(connection)
                        open -= 1
                    }
                } else {
                    open -= sendDue()
                }
                var events = [epoll_event](repeating: epoll_event(), count: 64)
                while open > 0, !stopped.withLockedValue({ $0 }) {
                    let ready = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, 64, 100) }
                    if ready < 0 {
                        if errno == EINTR { continue }
                        for _ in 0..<open { bench.connectionLost() }
                        return
                    }
                    for event in events.prefix(Int(ready)) {
                        if event.data.u64 == Self.timerEvent {
                            var expirations: UInt64 = 0
                            _ = read(timer, &expirations, 8)
                            timerArmedAt = 0
                            continue
                        }
                        let connection = connections[Int(event.data.u64)]
                        switch receive(connection) {
                        case .open: continue
                        case .done: open -= 1
                        case .lost:
                            lose(connection)
                            open -= 1
                        }
                    }
                    if interval != nil { open -= sendDue() }
                }
            }

            /// Counts a connection the server closed (or that failed) before the run ended, and stops watching it.
            private func lose(_ connection: Connection) {
                _ = epoll_ctl(epoll, EPOLL_CTL_DEL, connection.descriptor, nil)
                connection.closed = true
                bench.connectionLost()
            }

            /// Open loop: sends the request of every idle connection whose next one is due, and sets the timer for
            /// the earliest one not yet due. Returns how many connections were lost on the way.
            private func sendDue() -> Int {
                let now = Clock.now()
                var lost = 0
                var earliest = UInt64.max
                for connection in connections where !connection.inFlight && !connection.closed {
                    if connection.dueAt <= now {
                        if !send(connection) {
                            lose(connection)
                            lost += 1
                        }
                    } else {
                        earliest = min(earliest, connection.dueAt)
                    }
                }
                if earliest != .max, earliest != timerArmedAt {
                    var setting = itimerspec()
                    setting.it_value.tv_sec = Int(earliest / 1_000_000_000)
                    setting.it_value.tv_nsec = Int(earliest % 1_000_000_000)
                    _ = timerfd_settime(timer, Int32(TFD_TIMER_ABSTIME), &setting, nil)
                    timerArmedAt = earliest
                }
                return lost
            }

            enum Outcome {
                /// Waiting for its next response.
                case open
                /// The run has stopped: no further request.
                case done
                /// Closed by the server, or failed, before the run ended.
                case lost
            }

            /// Reads what has arrived; for each whole response, records it and sends the next request.
            private func receive(_ connection: Connection) -> Outcome {
                var result = 0
                connection.pending.writeWithUnsafeMutableBytes(minimumWritableBytes: 16_384) { buffer in
                    result = read(connection.descriptor, buffer.baseAddress, buffer.count)
                    return max(0, result)
                }
                if result == 0 { return .lost }
                if result < 0 { return errno == EAGAIN || errno == EINTR ? .open : .lost }
                while let length = Response.length(in: connection.pending, jsonRPC: jsonRPC) {
                    let isError = Response.isError(connection.pending, jsonRPC: jsonRPC)
                    connection.pending.moveReaderIndex(forwardBy: length)
                    connection.inFlight = false
                    let now = Clock.now()
                    guard bench.record(completedAt: now, latency: now - connection.startedAt, isError: isError) else {
                        return .done
                    }
                    if let interval {
                        // The next one is sent by sendDue: now if it is already due (the server is behind).
                        connection.dueAt += interval
                    } else {
                        guard send(connection) else { return .lost }
                    }
                }
                connection.pending.discardReadBytes()
                return .open
            }

            /// Writes the connection's next request whole (a request is far smaller than the socket's buffer, and
            /// the one before it has been answered, so a short write is a rarity that is waited out, unless the run
            /// stops or the connection fails meanwhile). `MSG_NOSIGNAL`: a server that closed the connection makes
            /// this fail with EPIPE instead of ending the process with SIGPIPE.
            private func send(_ connection: Connection) -> Bool {
                let request = connection.requests[connection.next]
                connection.next = connection.next + 1 == connection.requests.count ? 0 : connection.next + 1
                connection.startedAt = interval == nil ? Clock.now() : connection.dueAt
                connection.inFlight = true
                return request.withUnsafeBytes { bytes in
                    var offset = 0
                    while offset < bytes.count {
                        let written = Glibc.send(
                            connection.descriptor, bytes.baseAddress! + offset, bytes.count - offset,
                            Int32(MSG_NOSIGNAL))
                        if written > 0 {
                            offset += written
                        } else if written < 0, errno == EAGAIN || errno == EINTR {
                            guard !stopped.withLockedValue({ $0 }) else { return false }
                            var descriptor = pollfd(fd: connection.descriptor, events: Int16(POLLOUT), revents: 0)
                            if poll(&descriptor, 1, 100) > 0, descriptor.revents & Int16(POLLERR | POLLHUP) != 0 {
                                return false
                            }
                        } else {
                            return false
                        }
                    }
                    return true
                }
            }
        }
    }
#endif
