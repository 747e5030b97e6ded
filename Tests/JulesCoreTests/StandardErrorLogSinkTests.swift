#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import Dispatch
import Foundation
import JulesCore
import Logging
import Testing

/// The buffered log sink, writing into a pipe whose read end the test drains without blocking. Serialized: two
/// tests block a thread for up to a second on a full pipe, which must not starve the others.
@Suite(.serialized) struct StandardErrorLogSinkTests {
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

    /// Fills a pipe whose write end is non-blocking (as standard error is when it shares standard output's file
    /// with the stdio server); returns how many bytes it took.
    private static func fill(_ pipe: Pipe) -> Int {
        _ = fcntl(pipe.writeEnd, F_SETFL, fcntl(pipe.writeEnd, F_GETFL) | O_NONBLOCK)
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 4_096)
        var total = 0
        while true {
            let count = chunk.withUnsafeBytes { write(pipe.writeEnd, $0.baseAddress!, $0.count) }
            guard count > 0 else { return total }
            total += count
        }
    }

    @Test func aFullNonBlockingDescriptorIsWaitedForNotCut() throws {
        let pipe = try Pipe()
        let filled = Self.fill(pipe)
        let sink = StandardErrorLogSink(fileDescriptor: pipe.writeEnd, flushInterval: .seconds(3600))
        let lines = (0..<50).map { "line \($0) " + String(repeating: "y", count: 200) }
        // The writer blocks in poll until the test drains the pipe; then every line goes out whole, in order. (On a
        // thread of its own: a blocked thread of the tasks' pool could keep the test from draining.)
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for line in lines { sink.write(Self.line(line), immediately: true) }
            finished.signal()
        }
        // The writer meets the full pipe first (it waits up to a second for room). The test keeps its thread while
        // it drains (no suspension), so a busy pool cannot make it late.
        usleep(200_000)
        var received = ""
        let expected = filled + lines.map { $0.utf8.count + 1 }.reduce(0, +)
        let deadline = ContinuousClock.now + .seconds(10)
        while received.utf8.count < expected, ContinuousClock.now < deadline {
            received += pipe.readAvailable()
            usleep(5_000)
        }
        #expect(finished.wait(timeout: .now() + 10) == .success)
        let whole = received.dropFirst(filled) == lines.map { $0 + "\n" }.joined()[...]
        #expect(whole, "every line arrives whole and in order after the pipe drains")
    }

    @Test func aDescriptorThatStaysFullDropsLinesButNeverJoinsTwo() throws {
        let pipe = try Pipe()
        let filled = Self.fill(pipe)
        // Room for the start of the next line only (two pages: a pipe takes writes a page at a time).
        var room = [UInt8](repeating: 0, count: 8_192)
        #expect(room.withUnsafeMutableBytes { read(pipe.readEnd, $0.baseAddress!, $0.count) } == 8_192)
        let sink = StandardErrorLogSink(fileDescriptor: pipe.writeEnd, flushInterval: .seconds(3600))
        // Nobody reads for longer than the writer waits: the line is given up after about a second.
        sink.write(Self.line("lost " + String(repeating: "z", count: 100_000)), immediately: true)
        let drained = pipe.readAvailable()
        #expect(drained.utf8.count == filled, "the start of the lost line got out")
        sink.write(Self.line("after"), immediately: true)
        let rest = pipe.readAvailable()
        // Whatever part of the lost line got out is ended by a newline before the next line starts.
        let lastLine = (drained + rest).split(separator: "\n", omittingEmptySubsequences: false).dropLast().last
        let separate = lastLine == "after"
        #expect(separate, "the line after the lost one starts on a line of its own")
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
