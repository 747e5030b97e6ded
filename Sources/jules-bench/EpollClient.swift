#if canImport(Glibc)
    import CEpoll
    import Foundation
    import Glibc
    import NIOConcurrencyHelpers
    import NIOCore

    /// The closed loop of ``SocketBench`` on plain `epoll(7)`: one thread per group of connections, a `read(2)` and a
    /// `write(2)` per request, nothing else.
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
        private let stopped = NIOLockedValueBox(false)
        /// Threads started and threads finished.
        private let threads = NIOLockedValueBox((started: 0, finished: 0))

        init(socketPath: String, requests: [[UInt8]], jsonRPC: Bool, run: BenchRun) {
            self.socketPath = socketPath
            self.requests = requests
            self.jsonRPC = jsonRPC
            self.run = run
        }

        /// Opens `connections` connections, spread over `threads` threads, and keeps one request in flight on each
        /// until ``stop()``.
        func start(connections: Int, threads count: Int) throws {
            var groups = Array(repeating: [Connection](), count: count)
            for index in 0..<connections {
                let own = stride(from: index % requests.count, to: requests.count, by: connections).map { requests[$0] }
                groups[index % count].append(Connection(descriptor: try connect(), requests: own))
            }
            let loops = try groups.map { try Loop(connections: $0, jsonRPC: jsonRPC, run: run, stopped: stopped) }
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

        /// One connection's requests and what has arrived of its current response.
        final class Connection {
            let descriptor: Int32
            let requests: [[UInt8]]
            var next = 0
            var sentAt: UInt64 = 0
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
            private let jsonRPC: Bool
            private let bench: BenchRun
            private let stopped: NIOLockedValueBox<Bool>
            private let errorPrefix = Array(#"{"jsonrpc":"2.0","error""#.utf8)

            init(connections: [Connection], jsonRPC: Bool, run: BenchRun, stopped: NIOLockedValueBox<Bool>) throws {
                self.connections = connections
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
            }

            func run() {
                defer {
                    for connection in connections { close(connection.descriptor) }
                    close(epoll)
                }
                var open = 0
                for connection in connections {
                    if send(connection) {
                        open += 1
                    } else {
                        lose(connection)
                    }
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
                        let connection = connections[Int(event.data.u64)]
                        switch receive(connection) {
                        case .open: continue
                        case .done: open -= 1
                        case .lost:
                            lose(connection)
                            open -= 1
                        }
                    }
                }
            }

            /// Counts a connection the server closed (or that failed) before the run ended, and stops watching it.
            private func lose(_ connection: Connection) {
                _ = epoll_ctl(epoll, EPOLL_CTL_DEL, connection.descriptor, nil)
                bench.connectionLost()
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
                while let length = nextResponseLength(connection.pending) {
                    let isError = jsonRPC && connection.pending.readableBytesView.starts(with: errorPrefix)
                    connection.pending.moveReaderIndex(forwardBy: length)
                    let now = NIODeadline.now().uptimeNanoseconds
                    guard bench.record(completedAt: now, latency: now - connection.sentAt, isError: isError) else {
                        return .done
                    }
                    guard send(connection) else { return .lost }
                }
                connection.pending.discardReadBytes()
                return .open
            }

            private func nextResponseLength(_ pending: ByteBuffer) -> Int? {
                let bytes = pending.readableBytesView
                guard jsonRPC else {
                    return RESP.length(of: bytes, from: bytes.startIndex).map { $0 - bytes.startIndex }
                }
                guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
                return newline - bytes.startIndex + 1
            }

            /// Writes the connection's next request whole (a request is far smaller than the socket's buffer, and
            /// the one before it has been answered, so a short write is a rarity that is waited out, unless the run
            /// stops or the connection fails meanwhile). `MSG_NOSIGNAL`: a server that closed the connection makes
            /// this fail with EPIPE instead of ending the process with SIGPIPE.
            private func send(_ connection: Connection) -> Bool {
                let request = connection.requests[connection.next]
                connection.next = connection.next + 1 == connection.requests.count ? 0 : connection.next + 1
                connection.sentAt = NIODeadline.now().uptimeNanoseconds
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
