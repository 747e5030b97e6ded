import Foundation
import JSONRPC
import Postgres
import Testing

@testable import JulesCore

@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct SMSMethodTests {
    private func messageCount(_ harness: MembersHarness) async throws -> Int {
        try await harness.database.query("SELECT count(*) AS n FROM sms_messages")[0].decode("n")
    }

    @Test func sendQueuesAMessageWithItsSegments() async throws {
        try await MembersHarness.run { harness in
            let member = try await harness.makeMembers(1)[0]
            let sent = try await harness.result(
                "sms.send", ["member_id": .string(member.id), "body": .string(String(repeating: "ж", count: 71))])
            #expect(sent["status"] == "queued")
            #expect(sent["segments"] == 2)
            #expect(sent["encoding"] == "ucs2")
            let status = try await harness.result("sms.status", ["message_id": sent["message_id"]!])
            #expect(status["status"] == "queued")
            #expect(status["priority"] == "bulk")
            #expect(status["member_id"] == .string(member.id))
            #expect(status["attempts"] == 0)
            #expect(status["batch_id"] == .null)
            #expect(status["provider"] == .null)
            // The number is never stored with the message.
            let row = try await harness.database.query("SELECT row_to_json(sms_messages)::text AS r FROM sms_messages")
            let text: String = try row[0].decode("r")
            #expect(!text.contains(member.phone) && !text.contains(String(member.phone.dropFirst(2))))
        }
    }

    /// Each entry: params of `sms.send` and the field its error must name.
    static let invalidSends: [(JSONValue, String)] = {
        let id = JSONValue.string(UUID().uuidString)
        var cases: [(JSONValue, String)] = []
        cases.append((["member_id": "nope", "body": "Hi"], "params.member_id"))
        cases.append((["body": "Hi"], "params.member_id"))
        cases.append((["member_id": id, "body": ""], "params.body"))
        cases.append((["member_id": id, "body": .string(String(repeating: "a", count: 1601))], "params.body"))
        cases.append((["member_id": id, "body": "a\u{07}b"], "params.body"))
        cases.append((["member_id": id, "body": 42], "params.body"))
        cases.append((["member_id": id, "body": "Hi", "priority": "urgent"], "params.priority"))
        return cases
    }()

    @Test(arguments: invalidSends)
    func sendRefusesInvalidParamsNamingTheField(_ params: JSONValue, field: String) async throws {
        try await MembersHarness.run { harness in
            let error = try await harness.error("sms.send", params)
            #expect(error["code"] == -32602)
            #expect(error["data"]?["field"] == .string(field))
            #expect(try await messageCount(harness) == 0)
        }
    }

    @Test func sendRefusesUnknownDeletedAndOptedOutMembers() async throws {
        try await MembersHarness.run { harness in
            let members = try await harness.makeMembers(2)
            let unknown = try await harness.error("sms.send", ["member_id": .string(UUID().uuidString), "body": "Hi"])
            #expect(unknown["code"] == -32001)
            _ = try await harness.result("member.delete", ["member_id": .string(members[0].id)])
            let deleted = try await harness.error("sms.send", ["member_id": .string(members[0].id), "body": "Hi"])
            #expect(deleted["code"] == -32001)
            _ = try await harness.result("member.optOut", ["member_id": .string(members[1].id)])
            let optedOut = try await harness.error("sms.send", ["member_id": .string(members[1].id), "body": "Hi"])
            #expect(optedOut["code"] == -32006)
            #expect(optedOut["data"]?["type"] == "forbidden")
            #expect(optedOut["data"]?["reason"] == "opted_out")
            #expect(optedOut["data"]?["correlation_id"]?.stringValue != nil)
            #expect(try await messageCount(harness) == 0)
        }
    }

    @Test func membersWhoHaveNotOptedInGetRepliesOnly() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let member = try await harness.addMember(household: household, name: "New", phone: "+14158679999")
            let id = try #require(member["id"])
            #expect(member["opt_in_state"] == "pending")
            let bulk = try await harness.error("sms.send", ["member_id": id, "body": "Weekly plan"])
            #expect(bulk["code"] == -32006)
            #expect(bulk["data"]?["reason"] == "not_opted_in")
            let batch = try await harness.result("sms.sendBatch", ["messages": [["member_id": id, "body": "Plan"]]])
            #expect(batch["rejected"]?.arrayValue?.first?["error"]?["data"]?["reason"] == "not_opted_in")
            let reply = try await harness.result(
                "sms.send", ["member_id": id, "body": "Reply START to join", "priority": "reply"])
            #expect(reply["status"] == "queued")
        }
    }

    @Test func aBatchRejectsBadEntriesOneByOneAndQueuesTheRest() async throws {
        try await MembersHarness.run { harness in
            let members = try await harness.makeMembers(3)
            _ = try await harness.result("member.optOut", ["member_id": .string(members[2].id)])
            let batch = try await harness.result(
                "sms.sendBatch",
                [
                    "messages": [
                        ["member_id": .string(members[0].id), "body": "One"],
                        ["member_id": .string(members[1].id), "body": ""],
                        "not an object",
                        ["member_id": .string(members[2].id), "body": "Opted out"],
                        ["member_id": .string(UUID().uuidString), "body": "Nobody"],
                        ["member_id": .string(members[1].id), "body": "Two", "priority": "reply"],
                        ["member_id": .string(members[1].id), "body": "Bad priority", "priority": 1],
                    ]
                ])
            #expect(batch["accepted"] == 2)
            let rejected = try #require(batch["rejected"]?.arrayValue)
            #expect(rejected.map { $0["index"] } == [1, 2, 3, 4, 6])
            #expect(rejected[0]["error"]?["data"]?["field"] == "params.messages[1].body")
            #expect(rejected[1]["error"]?["data"]?["field"] == "params.messages[2]")
            #expect(rejected[2]["error"]?["code"] == -32006)
            #expect(rejected[3]["error"]?["code"] == -32001)
            #expect(rejected[4]["error"]?["data"]?["field"] == "params.messages[6].priority")
            let ids = try #require(batch["message_ids"]?.arrayValue)
            #expect(ids.count == 7)
            #expect(ids.enumerated().filter { $0.element != .null }.map(\.offset) == [0, 5])
            let reply = try await harness.result("sms.status", ["message_id": ids[5]])
            #expect(reply["priority"] == "reply")
            #expect(reply["batch_id"] == batch["batch_id"])
            let counts = try await harness.result("sms.status", ["batch_id": batch["batch_id"]!])
            #expect(counts["total"] == 2)
            #expect(counts["entries"] == 7)
            #expect(counts["counts"]?["queued"] == 2)
            #expect(counts["done"] == false)
        }
    }

    @Test func batchLimits() async throws {
        try await MembersHarness.run { harness in
            let member = try await harness.makeMembers(1)[0]
            let empty = try await harness.error("sms.sendBatch", ["messages": []])
            #expect(empty["data"]?["field"] == "params.messages")
            let entry: JSONValue = ["member_id": .string(member.id), "body": "x"]
            let tooMany = try await harness.error(
                "sms.sendBatch", ["messages": .array(Array(repeating: entry, count: 10_001))])
            #expect(tooMany["data"]?["field"] == "params.messages")
            #expect(tooMany["data"]?["reason"] == "must hold at most 10000 messages")
            for spread in [JSONValue(-1), JSONValue(86_401)] {
                let bad = try await harness.error("sms.sendBatch", ["messages": [entry], "spread_seconds": spread])
                #expect(bad["data"]?["field"] == "params.spread_seconds")
            }
            #expect(try await messageCount(harness) == 0)
        }
    }

    @Test func aSpreadBatchIsSpacedEvenlyOverItsWindow() async throws {
        try await MembersHarness.run { harness in
            let members = try await harness.makeMembers(4)
            let batch = try await harness.result(
                "sms.sendBatch",
                [
                    "messages": .array(members.map { ["member_id": .string($0.id), "body": "Spread"] }),
                    "spread_seconds": 60,
                ])
            let rows = try await harness.database.query(
                """
                SELECT extract(epoch FROM not_before - min(not_before) OVER ())::double precision AS offset_s
                FROM sms_messages WHERE batch_id = $1 ORDER BY not_before
                """, [.text(try #require(batch["batch_id"]?.stringValue))])
            let offsets = try rows.map { try $0.decode("offset_s", as: Double.self) }
            #expect(offsets.map { ($0 * 1000).rounded() / 1000 } == [0, 15, 30, 45])
        }
    }

    @Test func statusNeedsExactlyOneId() async throws {
        try await MembersHarness.run { harness in
            let none = try await harness.error("sms.status", [:])
            #expect(none["data"]?["field"] == "params")
            let both = try await harness.error(
                "sms.status", ["message_id": .string(UUID().uuidString), "batch_id": .string(UUID().uuidString)])
            #expect(both["data"]?["field"] == "params")
            let unknown = try await harness.error("sms.status", ["message_id": .string(UUID().uuidString)])
            #expect(unknown["code"] == -32001)
            let unknownBatch = try await harness.error("sms.status", ["batch_id": .string(UUID().uuidString)])
            #expect(unknownBatch["code"] == -32001)
        }
    }

    @Test func deliveryReportsMoveAMessageForwardOnly() async throws {
        try await MembersHarness.run { harness in
            let members = try await harness.makeMembers(2)
            let provider = ScriptedProvider()
            var sids: [String] = []
            var ids: [String] = []
            try await SMSSenders.run(harness, provider: provider) {
                for member in members {
                    let sent = try await harness.result(
                        "sms.send", ["member_id": .string(member.id), "body": "Hi", "priority": "reply"])
                    let id = try #require(sent["message_id"]?.stringValue)
                    let status = try await harness.waitForMessage(id, in: ["sent"])
                    ids.append(id)
                    sids.append(try #require(status["provider_sid"]?.stringValue))
                }
            }
            let delivered = try await harness.result(
                "sms.statusCallback",
                ["MessageSid": .string(sids[0]), "MessageStatus": "delivered", "AccountSid": "AC123", "To": "+1"])
            #expect(
                delivered == ["message_id": .string(ids[0]), "status": "delivered", "changed": true, "held": false])
            // A late "sent" report does not move it back.
            let late = try await harness.result(
                "sms.statusCallback", ["MessageSid": .string(sids[0]), "MessageStatus": "sent"])
            #expect(late["status"] == "delivered")
            #expect(late["changed"] == false)
            let status = try await harness.result("sms.status", ["message_id": .string(ids[0])])
            #expect(status["delivered_at"]?.stringValue != nil)

            // The carrier reports the member unsubscribed.
            // Its message names the number and is long, in combining marks (one grapheme, many code points): it is
            // stored masked and cut at 1,024 code points, as the column's check counts them.
            let marks = String(repeating: "e\u{301}\u{302}\u{303}", count: 400)
            let undelivered = try await harness.result(
                "sms.statusCallback",
                [
                    "MessageSid": .string(sids[1]), "MessageStatus": "undelivered", "ErrorCode": "21610",
                    "ErrorMessage": .string("Unsubscribed: +14155550123 " + marks),
                ])
            #expect(undelivered["status"] == "undelivered")
            let failed = try await harness.result("sms.status", ["message_id": .string(ids[1])])
            #expect(failed["error"]?["reason"] == "undelivered")
            #expect(failed["error"]?["code"] == 21610)
            let message = try #require(failed["error"]?["message"]?.stringValue)
            #expect(message.hasPrefix("Unsubscribed: +*******0123 "))
            #expect(message.unicodeScalars.count <= 1_024)
            let member = try await harness.result("member.get", ["member_id": .string(members[1].id)])
            #expect(member["opt_in_state"] == "opted_out")
            let audit = try await harness.result("audit.list", ["member_id": .string(members[1].id)])
            let last = try #require(audit["entries"]?.arrayValue?.last)
            #expect(last["source"] == "carrier")
            #expect(last["message_sid"] == .string(sids[1]))

            // The member opts back in; the same report sent again does not opt them out a second time.
            _ = try await harness.result("member.optIn", ["member_id": .string(members[1].id)])
            _ = try await harness.result(
                "sms.statusCallback",
                ["MessageSid": .string(sids[1]), "MessageStatus": "undelivered", "ErrorCode": "21610"])
            let again = try await harness.result("member.get", ["member_id": .string(members[1].id)])
            #expect(again["opt_in_state"] == "opted_in", "a repeated report changes nothing")

            // A report that moves nothing, for a sid no message has: nothing to keep.
            let unknown = try await harness.error(
                "sms.statusCallback", ["MessageSid": .string(ScriptedProvider.makeSID()), "MessageStatus": "sent"])
            #expect(unknown["code"] == -32001)
            let badStatus = try await harness.error(
                "sms.statusCallback", ["MessageSid": .string(sids[0]), "MessageStatus": "teleported"])
            #expect(badStatus["data"]?["field"] == "params.MessageStatus")
            let badSID = try await harness.error(
                "sms.statusCallback", ["MessageSid": "SM' OR 1=1", "MessageStatus": "delivered"])
            #expect(badSID["data"]?["field"] == "params.MessageSid")
            for code: JSONValue in ["x", "+21610", "-0", "0000021610", " 30003"] {
                let badCode = try await harness.error(
                    "sms.statusCallback",
                    ["MessageSid": .string(sids[0]), "MessageStatus": "failed", "ErrorCode": code])
                #expect(badCode["data"]?["field"] == "params.ErrorCode", "\(code)")
            }
        }
    }

    @Test func aReportThatComesBeforeItsSidIsRecordedIsHeldThenApplied() async throws {
        try await MembersHarness.run { harness in
            let members = try await harness.makeMembers(2)
            let provider = ScriptedProvider()
            let early = ScriptedProvider.makeSID()
            let unsubscribed = ScriptedProvider.makeSID()
            provider.script(members[0].phone, [.acceptAs(early)])
            provider.script(members[1].phone, [.acceptAs(unsubscribed)])
            let held = try await harness.result(
                "sms.statusCallback", ["MessageSid": .string(early), "MessageStatus": "delivered"])
            #expect(held == ["message_id": .null, "status": "delivered", "changed": false, "held": true])
            // A repeat is held once.
            _ = try await harness.result(
                "sms.statusCallback", ["MessageSid": .string(early), "MessageStatus": "delivered"])
            _ = try await harness.result(
                "sms.statusCallback",
                ["MessageSid": .string(unsubscribed), "MessageStatus": "undelivered", "ErrorCode": "21610"])
            var ids: [String] = []
            for member in members {
                let sent = try await harness.result(
                    "sms.send", ["member_id": .string(member.id), "body": "Hi", "priority": "reply"])
                ids.append(try #require(sent["message_id"]?.stringValue))
            }
            try await SMSSenders.run(harness, provider: provider) {
                let delivered = try await harness.waitForMessage(ids[0], in: ["delivered"])
                #expect(delivered["provider_sid"] == .string(early))
                #expect(delivered["delivered_at"]?.stringValue != nil)
                let undelivered = try await harness.waitForMessage(ids[1], in: ["undelivered"])
                #expect(undelivered["error"]?["code"] == 21610)
            }
            let member = try await harness.result("member.get", ["member_id": .string(members[1].id)])
            #expect(member["opt_in_state"] == "opted_out")
            let audit = try await harness.result("audit.list", ["member_id": .string(members[1].id)])
            #expect(audit["entries"]?.arrayValue?.last?["source"] == "carrier")
            let left = try await harness.database.query("SELECT count(*) AS n FROM sms_early_reports")
            #expect(try left[0].decode("n", as: Int.self) == 0)
        }
    }

    @Test func theOutboxListsWhatItKeptPageByPage() async throws {
        try await MembersHarness.run { harness in
            let members = try await harness.makeMembers(2)
            for (index, member) in members.enumerated() {
                for round in 0..<3 {
                    _ = try await harness.result(
                        "sms.send", ["member_id": .string(member.id), "body": .string("M\(index) R\(round)")])
                }
            }
            // Marked sent by the outbox as a sender would.
            let queue = harness.sms.queue
            let rows = try await harness.database.query("SELECT id FROM sms_messages ORDER BY created_at")
            for row in rows {
                let id: UUID = try row.decode("id")
                let claim = SMSQueue.Claim(instance: "x", token: UUID())
                _ = try await harness.database.query(
                    """
                    UPDATE sms_messages SET status = 'sending', claimed_by = 'x', claimed_until = now(),
                        claim_token = $2, attempt_started_at = now(), attempts = 1
                    WHERE id = $1
                    """,
                    [.uuid(id), .uuid(claim.token)])
                #expect(
                    try await queue.markSent(
                        id, claim: claim, provider: "outbox", receipt: ProviderReceipt(sid: OutboxProvider.makeSID()))
                        == .recorded)
            }
            let first = try await harness.result("sms.outbox", ["limit": 4])
            #expect(first["messages"]?.arrayValue?.count == 4)
            let next = try #require(first["next_after"]?.stringValue)
            let second = try await harness.result("sms.outbox", ["limit": 4, "after": .string(next)])
            #expect(second["messages"]?.arrayValue?.count == 2)
            #expect(second["next_after"] == .null)
            let bodies = (first["messages"]!.arrayValue! + second["messages"]!.arrayValue!).compactMap {
                $0["body"]?.stringValue
            }
            #expect(Set(bodies).count == 6)
            let mine = try await harness.result("sms.outbox", ["member_id": .string(members[1].id)])
            #expect(
                mine["messages"]?.arrayValue?.compactMap { $0["body"]?.stringValue }.sorted() == [
                    "M1 R0", "M1 R1", "M1 R2",
                ])
            let badLimit = try await harness.error("sms.outbox", ["limit": 0])
            #expect(badLimit["data"]?["field"] == "params.limit")
        }
    }

    @Test func statsCountTheQueue() async throws {
        try await MembersHarness.run { harness in
            let member = try await harness.makeMembers(1)[0]
            for _ in 0..<3 {
                _ = try await harness.result("sms.send", ["member_id": .string(member.id), "body": "Hi"])
            }
            let stats = try await harness.result("sms.stats")
            #expect(stats["queued"] == 3)
            #expect(stats["sent"] == 0)
            #expect(stats["provider"] == "twilio")
            #expect(stats["rate"]?["limit"]?.doubleValue == 80)
            #expect(stats["rate"]?["sender_limit"] == .null)
        }
    }
}
