import Foundation
import JSONRPC
import Postgres
import Synchronization
import Testing

@testable import JulesCore

/// What happens to a worker's changes once its claim of a row has been superseded: its lease ran out and the row
/// was claimed again, by another instance or by its own (as an orphan).
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct SMSClaimTests {
    static let lease = Duration.seconds(30)
    static let late = ProviderFailure(kind: .retryable(retryAfter: nil), message: "a late answer")

    @Test(arguments: ["sender-a", "sender-b"])
    func aSupersededClaimChangesNothing(newHolder: String) async throws {
        try await MembersHarness.run { harness in
            let queue = harness.sms.queue
            let member = try await harness.makeMembers(1)[0]
            let id = try await harness.queueMessage("Soup tonight?", member: member.id)
            let first = try await harness.startSending(id, instance: "sender-a")
            // The lease runs out while the request is in flight and the row is adopted again: by another instance,
            // or by the same one (its own orphan scan), whose name alone cannot tell the two claims apart.
            let second = try await harness.adopt(id, instance: newHolder)
            #expect(second.instance == newHolder && second.token != first.token)

            #expect(
                try await queue.retry(id, claim: first, delay: .zero, maximumAttempts: 3, failure: Self.late) == nil)
            #expect(
                try await queue.fail(
                    id, claim: first, failure: ProviderFailure(kind: .permanent, code: 21211, message: "late")) == false
            )
            #expect(try await queue.giveUp(id, claim: first, message: "late") == false)
            let row = try await harness.claimRow(id)
            #expect(row.status == "sending" && row.claimedBy == newHolder && row.token == second.token)
            #expect(row.attempts == 1 && row.errorMessage == nil)

            // The newer claim's own changes go through.
            #expect(
                try await queue.retry(
                    id, claim: second, delay: .zero, maximumAttempts: 3, failure: Self.late, countsAsAttempt: false)
                    == .queued)
            let released = try await harness.claimRow(id)
            #expect(released.claimedBy == nil && released.token == nil && released.attempts == 0)
        }
    }

    @Test func aBulkMessageWhoseQuietHoursBeganWhileItWaitedGoesBackToTheQueue() async throws {
        try await MembersHarness.run { harness in
            let queue = harness.sms.queue
            let member = try await harness.makeMembers(1, timezone: "Etc/UTC")[0]
            let bulk = try await harness.queueMessage("Weekly plan", member: member.id)
            let sent = try await harness.result(
                "sms.send", ["member_id": .string(member.id), "body": "Noted", "priority": "reply"])
            let replyText = try #require(sent["message_id"]?.stringValue)
            let reply = try #require(UUID(uuidString: replyText))
            // Both are claimed outside quiet hours; by the time their tokens come, the household's have begun.
            let claimed = try await queue.claim(limit: 100, instance: "sender-a", lease: Self.lease, quietHours: .off)
            #expect(Set(claimed.map(\.id)) == [bulk, reply])
            let now = Date()
            let (start, end) = SMSSenders.utcHoursAround(now)
            let quiet = SMSQueue.QuietHours(start: start, end: end)
            for message in claimed {
                let started = try await queue.start(
                    message.id, claim: message.claim, lease: Self.lease, quietHours: quiet)
                if message.id == bulk {
                    #expect(started == .deferred)
                } else {
                    guard case .send = started else {
                        Issue.record("a reply is not held for quiet hours: \(started)")
                        continue
                    }
                }
            }
            let row = try await harness.claimRow(bulk)
            #expect(row.status == "queued" && row.claimedBy == nil && row.token == nil && row.attempts == 0)
            let notBefore = try #require(
                try await harness.database.query("SELECT not_before FROM sms_messages WHERE id = $1", [.uuid(bulk)])
                    .first?.decode("not_before", as: Date.self))
            #expect(notBefore > now.addingTimeInterval(3000) && notBefore < now.addingTimeInterval(3700))
            #expect(try await harness.claimRow(reply).status == "sending")
            // Not claimable again until the quiet hours end.
            #expect(
                try await queue.claim(limit: 100, instance: "sender-b", lease: Self.lease, quietHours: .off).isEmpty)
        }
    }

    @Test func aLateReceiptIsRecordedOverANewerClaimThatHasNotFoundTheMessage() async throws {
        try await MembersHarness.run { harness in
            let queue = harness.sms.queue
            let member = try await harness.makeMembers(1)[0]
            // One row still being looked up by its new holder, one it has put back in the queue as not found.
            for requeued in [false, true] {
                let id = try await harness.queueMessage("Tacos on Tuesday", member: member.id)
                let first = try await harness.startSending(id, instance: "sender-a")
                let second = try await harness.adopt(id, instance: "sender-b")
                if requeued {
                    #expect(
                        try await queue.retry(
                            id, claim: second, delay: .seconds(60), maximumAttempts: 3, failure: Self.late,
                            countsAsAttempt: false) == .queued)
                }
                let sid = ScriptedProvider.makeSID()
                #expect(
                    try await queue.markSent(
                        id, claim: first, provider: "twilio", receipt: ProviderReceipt(sid: sid))
                        == .recordedOverNewerClaim)
                let row = try await harness.claimRow(id)
                #expect(row.status == "sent" && row.sid == sid && row.claimedBy == nil && row.token == nil)
                // The newer claim then finds the same message, or gives up on it: neither changes the row.
                if !requeued {
                    #expect(
                        try await queue.markSent(
                            id, claim: second, provider: "twilio", receipt: ProviderReceipt(sid: sid))
                            == .alreadyRecorded)
                    #expect(
                        try await queue.retry(id, claim: second, delay: .zero, maximumAttempts: 3, failure: Self.late)
                            == nil)
                }
                #expect(try await harness.claimRow(id).status == "sent")
            }
        }
    }

    @Test func aLateReceiptNeverRewritesARowThatHasEnded() async throws {
        try await MembersHarness.run { harness in
            let queue = harness.sms.queue
            let member = try await harness.makeMembers(1)[0]
            // The newer claim sent it again and recorded its own sid: the message went twice.
            let resent = try await harness.queueMessage("Pasta or rice?", member: member.id)
            let first = try await harness.startSending(resent, instance: "sender-a")
            let second = try await harness.adopt(resent, instance: "sender-b")
            let recorded = ScriptedProvider.makeSID()
            #expect(
                try await queue.markSent(
                    resent, claim: second, provider: "twilio", receipt: ProviderReceipt(sid: recorded)) == .recorded)
            let late = ScriptedProvider.makeSID()
            #expect(
                try await queue.markSent(resent, claim: first, provider: "twilio", receipt: ProviderReceipt(sid: late))
                    == .conflicting(status: .sent, sid: recorded))
            #expect(try await harness.claimRow(resent).sid == recorded)

            // The newer claim ended it failed.
            let failed = try await harness.queueMessage("Pizza night", member: member.id)
            let third = try await harness.startSending(failed, instance: "sender-a")
            let fourth = try await harness.adopt(failed, instance: "sender-b")
            #expect(try await queue.giveUp(failed, claim: fourth, message: "no answer"))
            #expect(
                try await queue.markSent(
                    failed, claim: third, provider: "twilio", receipt: ProviderReceipt(sid: ScriptedProvider.makeSID()))
                    == .conflicting(status: .failed, sid: nil))
            let row = try await harness.claimRow(failed)
            #expect(row.status == "failed" && row.sid == nil)
        }
    }

    @Test func theSenderLeavesARowClaimedAgainWhileItsRequestWasInFlightToTheNewClaim() async throws {
        try await MembersHarness.run { harness in
            let configuration = SMSSenders.configuration()
            let member = try await harness.makeMembers(1)[0]
            let id = try await harness.queueMessage("Curry?", member: member.id)
            let provider = ScriptedProvider()
            let newer = Mutex<SMSQueue.Claim?>(nil)
            // While the request is in flight, its lease runs out and this same instance adopts the row as an
            // orphan; then the provider answers 503.
            provider.script(
                member.phone,
                [
                    .meanwhile(
                        {
                            let claim = try await harness.adopt(id, instance: configuration.instance)
                            newer.withLock { $0 = claim }
                        }, then: .fail(.twilio(503, code: nil)))
                ])
            try await SMSSenders.run(harness, provider: provider, configuration: { _ in configuration }) {
                try await harness.waitForLog("claimed again before this sender could record its outcome")
            }
            let row = try await harness.claimRow(id)
            #expect(row.status == "sending", "the late 503 did not put the row back in the queue")
            #expect(row.claimedBy == configuration.instance && row.token == newer.withLock { $0 }?.token)
            #expect(row.errorMessage == nil)
            #expect(provider.attempts(to: member.phone) == 1)
        }
    }

    @Test func aReceiptForARowThatEndedWithAnotherSidIsLoggedWithBothSids() async throws {
        try await MembersHarness.run { harness in
            let member = try await harness.makeMembers(1)[0]
            let id = try await harness.queueMessage("Stew?", member: member.id)
            let provider = ScriptedProvider()
            let other = ScriptedProvider.makeSID()
            let late = ScriptedProvider.makeSID()
            // While the request is in flight, another instance adopts the row and records another send of it.
            provider.script(
                member.phone,
                [
                    .meanwhile(
                        {
                            let claim = try await harness.adopt(id, instance: "sender-b")
                            _ = try await harness.sms.queue.markSent(
                                id, claim: claim, provider: "twilio", receipt: ProviderReceipt(sid: other))
                        }, then: .acceptAs(late))
                ])
            try await SMSSenders.run(harness, provider: provider) {
                try await harness.waitForLog("went to the provider twice")
            }
            #expect(try await harness.claimRow(id).sid == other, "an ended row keeps its sid")
            let line = try #require(harness.logs.captured.first { $0.contains("went to the provider twice") })
            #expect(line.contains(late) && line.contains(other))
            #expect(!harness.logs.captured.joined().contains(String(member.phone.dropFirst())))
        }
    }
}

extension MembersHarness {
    /// Queues a message to `member` and returns its id.
    fileprivate func queueMessage(_ body: String, member: String) async throws -> UUID {
        let sent = try await result("sms.send", ["member_id": .string(member), "body": .string(body)])
        let text = try #require(sent["message_id"]?.stringValue)
        return try #require(UUID(uuidString: text))
    }

    /// Claims the message as `instance` and moves it to `sending`, as a sender does before its request.
    fileprivate func startSending(_ id: UUID, instance: String) async throws -> SMSQueue.Claim {
        let claimed = try await sms.queue.claim(
            limit: 100, instance: instance, lease: SMSClaimTests.lease, quietHours: .off)
        let message = try #require(claimed.first { $0.id == id })
        let started = try await sms.queue.start(
            id, claim: message.claim, lease: SMSClaimTests.lease, quietHours: .off)
        guard case .send = started else {
            Issue.record("the message was not started")
            return message.claim
        }
        return message.claim
    }

    /// Lets the row's lease run out and adopts it as an orphan under `instance`: a new claim.
    fileprivate func adopt(_ id: UUID, instance: String) async throws -> SMSQueue.Claim {
        _ = try await database.query(
            "UPDATE sms_messages SET claimed_until = now() - interval '1 second' WHERE id = $1", [.uuid(id)])
        let orphans = try await sms.queue.adoptOrphans(
            limit: 100, instance: instance, lease: SMSClaimTests.lease, includingOwnBefore: nil)
        return try #require(orphans.first { $0.id == id }).claim
    }

    fileprivate struct ClaimRow {
        var status: String
        var claimedBy: String?
        var token: UUID?
        var sid: String?
        var attempts: Int
        var errorMessage: String?
    }

    fileprivate func claimRow(_ id: UUID) async throws -> ClaimRow {
        let rows = try await database.query(
            """
            SELECT status, claimed_by, claim_token, provider_sid, attempts, error_message FROM sms_messages
            WHERE id = $1
            """, [.uuid(id)])
        let row = try #require(rows.first)
        return ClaimRow(
            status: try row.decode("status"), claimedBy: try row.decode("claimed_by"),
            token: try row.decode("claim_token"), sid: try row.decode("provider_sid"),
            attempts: try row.decode("attempts"), errorMessage: try row.decode("error_message"))
    }

    /// Waits until a log line contains `text`.
    fileprivate func waitForLog(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for _ in 0..<400 {
            if logs.captured.contains(where: { $0.contains(text) }) { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("no log line contains \"\(text)\"", sourceLocation: sourceLocation)
    }
}
