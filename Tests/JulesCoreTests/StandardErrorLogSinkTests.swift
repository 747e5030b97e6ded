#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import JulesCore
import Logging
import Testing

/// The buffered log sink, writing into a pipe whose read end the test drains without blocking.
@Suite struct StandardErrorLogSinkTests {
    /// A pipe: lines go into `writeEnd`; `readAvailable()` returns what has arrived so far, without waiting.
    final class Pipe {
        let readEnd: Int32
        let writeEnd: Int32

        init() throws {
            var ends: [Int32] = [0, 0]
            try #require(pipe(&ends) == 0)
            readEnd = ends[0]
            writeEnd = ends[1]
            _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        }

        deinit {
            close(readEnd)
            close(writeEnd)
        }

        func readAvailable() -> String {
            var bytes = [UInt8]()
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress!, $0.count) }
                guard count > 0 else { break }
                bytes.append(contentsOf: chunk[..<count])
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func line(_ text: String) -> [UInt8] { Array((text + "\n").utf8) }

    @Test func aLineWrittenImmediatelyIsOutWithEveryLineBeforeIt() throws {
        let pipe = try Pipe()
        // An hour between flushes: nothing but `immediately` can have written these.
        let sink = StandardErrorLogSink(fileDescriptor: pipe.writeEnd, flushInterval: .seconds(3600))
        sink.write(Self.line("one"), immediately: false)
        sink.write(Self.line("two"), immediately: false)
        #expect(pipe.readAvailable() == "", "info lines wait for the flusher")
        sink.write(Self.line("three (a warning)"), immediately: true)
        #expect(pipe.readAvailable() == "one\ntwo\nthree (a warning)\n")
        sink.write(Self.line("four"), immediately: false)
        sink.flush()
        #expect(pipe.readAvailable() == "four\n")
    }

    @Test func waitingLinesAreWrittenByTheFlusherWithoutAnotherCall() async throws {
        let pipe = try Pipe()
        let sink = StandardErrorLogSink(fileDescriptor: pipe.writeEnd, flushInterval: .milliseconds(5))
        for index in 0..<3 {
            sink.write(Self.line("line \(index)"), immediately: false)
        }
        var received = ""
        // Waits for the flusher (every 5 ms) for up to a minute: a liveness check, not a timing one.
        for _ in 0..<6_000 where received.count < 21 {
            try await Task.sleep(for: .milliseconds(10))
            received += pipe.readAvailable()
        }
        #expect(received == "line 0\nline 1\nline 2\n")
        // And again after it has slept with nothing to do.
        sink.write(Self.line("later"), immediately: false)
        for _ in 0..<6_000 where !received.hasSuffix("later\n") {
            try await Task.sleep(for: .milliseconds(10))
            received += pipe.readAvailable()
        }
        #expect(received == "line 0\nline 1\nline 2\nlater\n")
    }

    @Test func aFullBufferIsWrittenByTheCaller() throws {
        let pipe = try Pipe()
        let sink = StandardErrorLogSink(fileDescriptor: pipe.writeEnd, flushInterval: .seconds(3600), bufferLimit: 100)
        let text = String(repeating: "x", count: 59)
        sink.write(Self.line(text), immediately: false)
        #expect(pipe.readAvailable() == "")
        sink.write(Self.line(text), immediately: false)
        #expect(pipe.readAvailable() == "\(text)\n\(text)\n", "120 bytes waiting is over the limit of 100")
    }

    @Test func linesFromManyThreadsArriveWholeAndInEachWritersOrder() async throws {
        let pipe = try Pipe()
        let sink = StandardErrorLogSink(
            fileDescriptor: pipe.writeEnd,
            flushInterval: .milliseconds(1),
            bufferLimit: 4096
        )
        // 8 writers x 200 lines of about 20 bytes: under the pipe's 64 KiB, so no reader is needed meanwhile.
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for index in 0..<200 {
                        sink.write(Self.line("writer \(writer) line \(index)"), immediately: index % 50 == 49)
                    }
                }
            }
        }
        sink.flush()
        let lines = pipe.readAvailable().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "", "the output ends with a newline")
        var next = [Int](repeating: 0, count: 8)
        for line in lines.dropLast() {
            let words = line.split(separator: " ")
            let writer = try #require(words.count == 4 ? Int(words[1]) : nil, "a whole line: \(line)")
            #expect(words[3] == "\(next[writer])", "writer \(writer)'s lines in order")
            next[writer] += 1
        }
        #expect(next == [Int](repeating: 200, count: 8))
    }

    @Test func theLogHandlerAsksForWarningsAndErrorsAtOnce() {
        let sink = CapturingSink()
        let logger = Logger(label: "jules") { label in JSONLogHandler(label: label, level: .debug, sink: sink) }
        logger.debug("d")
        logger.info("i")
        logger.notice("n")
        logger.warning("w")
        logger.error("e")
        logger.critical("c")
        #expect(sink.immediately == [false, false, false, true, true, true])
    }
}
