import NIOCore
import Synchronization
import Testing

@testable import JSONRPC

@Suite struct FrameInboxTests {
    static func frame(_ text: String) -> JSONRPCFrame {
        JSONRPCFrame(.message(ByteBuffer(string: text)), framing: .newlineDelimited)
    }

    static func text(_ frame: JSONRPCFrame?) -> String? {
        guard case .message(let buffer)? = frame?.kind else { return nil }
        return String(buffer: buffer)
    }

    @Test func readingPausesWhenFullAndResumesWhenDrained() async throws {
        let resumed = Mutex(0)
        let inbox = FrameInbox<JSONRPCFrame>(highWatermark: 4, lowWatermark: 1) { resumed.withLock { $0 += 1 } }
        #expect(inbox.push(Self.frame("1")) == false)
        #expect(inbox.push(Self.frame("2")) == false)
        #expect(inbox.push(Self.frame("3")) == false)
        #expect(inbox.push(Self.frame("4")) == true, "the fourth frame fills it")
        #expect(inbox.isReadPaused)
        #expect(Self.text(try await inbox.next()) == "1")
        #expect(Self.text(try await inbox.next()) == "2")
        #expect(resumed.withLock { $0 } == 0, "still above the low watermark")
        #expect(Self.text(try await inbox.next()) == "3")
        #expect(resumed.withLock { $0 } == 1, "drained to the low watermark: reading resumes once")
        #expect(!inbox.isReadPaused)
        #expect(Self.text(try await inbox.next()) == "4")
        #expect(resumed.withLock { $0 } == 1)
    }

    @Test func aWaitingReaderGetsTheNextFrameThenTheEnd() async throws {
        let inbox = FrameInbox<JSONRPCFrame> {}
        async let first = inbox.next()
        try await Task.sleep(for: .milliseconds(20))
        _ = inbox.push(Self.frame("late"))
        #expect(Self.text(try await first) == "late")
        _ = inbox.push(Self.frame("left"))
        inbox.finish()
        #expect(Self.text(try await inbox.next()) == "left", "frames already read are still served after the end")
        #expect(try await inbox.next() == nil)
    }

    @Test func aFailureEndsTheStreamWithTheError() async throws {
        struct Broken: Error {}
        let inbox = FrameInbox<JSONRPCFrame> {}
        inbox.finish(failure: Broken())
        await #expect(throws: Broken.self) { try await inbox.next() }
    }

    @Test func cancellingAWaitingReaderEndsItsWait() async throws {
        let inbox = FrameInbox<JSONRPCFrame> {}
        let reader = Task { try await inbox.next() }
        try await Task.sleep(for: .milliseconds(20))
        reader.cancel()
        await #expect(throws: CancellationError.self) { try await reader.value }
    }
}
