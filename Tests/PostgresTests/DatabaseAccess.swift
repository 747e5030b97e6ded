import Testing

/// Lets database tests run in parallel while the one that restarts PostgreSQL runs alone: a readers–writer lock
/// around each test, applied with `.databaseAccess(.shared)` or `.databaseAccess(.exclusive)`.
struct DatabaseAccessTrait: TestTrait, SuiteTrait, TestScoping {
    enum Mode: Sendable {
        case shared
        case exclusive
    }

    let mode: Mode

    var isRecursive: Bool { true }

    /// Scopes each test, not the suite: a suite holding the shared lock would block its own exclusive test.
    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        await DatabaseGate.shared.lock(self.mode)
        do {
            try await function()
        } catch {
            await DatabaseGate.shared.unlock(self.mode)
            throw error
        }
        await DatabaseGate.shared.unlock(self.mode)
    }
}

extension Trait where Self == DatabaseAccessTrait {
    static func databaseAccess(_ mode: DatabaseAccessTrait.Mode) -> Self {
        Self(mode: mode)
    }
}

/// First come, first served; a waiting exclusive request holds back later shared ones so that it cannot starve.
actor DatabaseGate {
    static let shared = DatabaseGate()

    private var readers = 0
    private var writer = false
    private var waiting: [(mode: DatabaseAccessTrait.Mode, continuation: CheckedContinuation<Void, Never>)] = []

    func lock(_ mode: DatabaseAccessTrait.Mode) async {
        if self.waiting.isEmpty, self.canGrant(mode) {
            self.grant(mode)
            return
        }
        await withCheckedContinuation { self.waiting.append((mode, $0)) }
    }

    func unlock(_ mode: DatabaseAccessTrait.Mode) {
        switch mode {
        case .shared: self.readers -= 1
        case .exclusive: self.writer = false
        }
        while let next = self.waiting.first, self.canGrant(next.mode) {
            self.waiting.removeFirst()
            self.grant(next.mode)
            next.continuation.resume()
        }
    }

    private func canGrant(_ mode: DatabaseAccessTrait.Mode) -> Bool {
        switch mode {
        case .shared: !self.writer
        case .exclusive: !self.writer && self.readers == 0
        }
    }

    private func grant(_ mode: DatabaseAccessTrait.Mode) {
        switch mode {
        case .shared: self.readers += 1
        case .exclusive: self.writer = true
        }
    }
}
