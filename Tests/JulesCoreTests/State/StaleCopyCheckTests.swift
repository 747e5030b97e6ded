import Foundation
import JSONRPC
import Logging
import Redis
import Synchronization
import Testing

@testable import JulesCore

/// The check for cached copies made stale around Redis runs once for all the requests that need it at one time.
@Suite struct StaleCopyCheckTests {
    @Test func concurrentRequestsShareOneCheck() async throws {
        try await MembersHarness.run { harness in
            // A store whose Redis client has opened no connection yet: it must check before its first use of the
            // cache, and the calls below open none (no invalidations are pending), so one check covers them all.
            let redis = try StorageTestSupport.makeRedis()
            let store = StateStore(database: harness.database, redis: redis, logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<32 { group.addTask { try await store.dropStaleCopiesIfReconnected() } }
                try await group.waitForAll()
            }
            await redis.shutdown()
            #expect(store.staleCopyChecks.load(ordering: .relaxed) == 1)
            try await store.dropStaleCopiesIfReconnected()
            #expect(store.staleCopyChecks.load(ordering: .relaxed) == 1, "nothing opened since: no new check")
        }
    }
}
