import Dispatch
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

    @Test func aBodyThatIgnoresCancellationDoesNotHoldUpTheAnswer() async throws {
        let started = ContinuousClock.now
        let value = try await withTimeout(.milliseconds(100)) { await Self.uncancellable(seconds: 30) }
        #expect(value == nil)
        // Far below the body's 30 s (a task group would have waited for it), with room for a loaded machine.
        #expect(ContinuousClock.now - started < .seconds(20))
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
        let started = ContinuousClock.now
        let caller = Task { try await withTimeout(.seconds(60)) { await Self.uncancellable(seconds: 30) } }
        caller.cancel()
        await #expect(throws: CancellationError.self) { _ = try await caller.value }
        #expect(ContinuousClock.now - started < .seconds(20))
    }
}
