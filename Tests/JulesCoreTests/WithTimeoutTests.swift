import Dispatch
import Synchronization
import Testing

@testable import JulesCore

/// The health checks' time limit: a check that ignores cancellation must not hold up the report.
@Suite struct WithTimeoutTests {
    /// Resumed by a timer on another thread after `seconds`, whatever happens to the task: like a blocking libpq
    /// call that has already been handed to its thread.
    static func uncancellable(seconds: Int) async -> Int {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds)) {
                continuation.resume(returning: seconds)
            }
        }
    }

    /// Set when a body has finished.
    final class Finished: Sendable {
        private let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }

    @Test func aBodyThatIgnoresCancellationDoesNotHoldUpTheAnswer() async throws {
        let finished = Finished()
        let value = try await withTimeout(.milliseconds(100)) {
            defer { finished.set() }
            return await Self.uncancellable(seconds: 120)
        }
        #expect(value == nil)
        // Answered while the body still runs (a task group would have waited the body's 120 s for it). Not a
        // measure of time, which a starved full run makes long.
        #expect(!finished.isSet)
    }

    @Test func aBodyThatFinishesInTimeGivesItsValue() async throws {
        #expect(try await withTimeout(.seconds(30)) { await Self.uncancellable(seconds: 0) } == 0)
    }

    @Test func aBodysErrorIsThrown() async throws {
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            _ = try await withTimeout(.seconds(30)) { () async throws -> Int in throw Refused() }
        }
    }

    @Test func aCancelledCallerIsAnsweredAtOnce() async throws {
        let finished = Finished()
        let caller = Task {
            try await withTimeout(.seconds(300)) {
                defer { finished.set() }
                return await Self.uncancellable(seconds: 120)
            }
        }
        caller.cancel()
        await #expect(throws: CancellationError.self) { _ = try await caller.value }
        #expect(!finished.isSet, "answered while the body still runs")
    }
}
