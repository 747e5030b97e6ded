import Foundation
import JSONRPC
import Logging
import NIOHTTP1
import Postgres
import Redis
import ServiceLifecycle
import Synchronization
import Testing

@testable import JulesCore

/// A provider that answers from a script, per destination number, and remembers every message it took.
///
/// It stands in for the SMS provider only (PostgreSQL and Redis are real); the Twilio HTTP exchange itself is tested
/// against a fake Twilio server by the Python suite.
final class ScriptedProvider: SMSProvider {
    enum Outcome: Sendable {
        case accept
        /// Accepts it under this sid.
        case acceptAs(String)
        case fail(ProviderFailure)
        /// Takes the message, then loses the answer: the sender cannot know it went.
        case acceptButLoseTheAnswer
        /// Takes the message and loses the answer, and its message list shows it only `listedAfter` later.
        case acceptButLoseTheAnswerAndListItLate(listedAfter: Duration)
        /// Loses the request: nothing is taken, and the sender cannot know that either.
        case loseTheRequest
        /// Runs `action` while the request is in flight (as another instance would meanwhile), then answers `then`.
        indirect case meanwhile(@Sendable () async throws -> Void, then: Outcome)
    }

    struct Taken: Sendable, Equatable {
        var to: String
        var body: String
        var sid: String
        var at: Date
        /// When its message list starts to show it.
        var listedFrom: Date

        init(to: String, body: String, sid: String, at: Date, listedFrom: Date? = nil) {
            self.to = to
            self.body = body
            self.sid = sid
            self.at = at
            self.listedFrom = listedFrom ?? at
        }
    }

    private struct State {
        var scripts: [String: [Outcome]] = [:]
        var taken: [Taken] = []
        var attempts: [String: Int] = [:]
        var lookups = 0
        var lookupsFail = false
    }

    private let state = Mutex(State())
    var name: String { "twilio" }

    /// The outcomes for `number`'s next sends, in order; after them, every send is accepted.
    func script(_ number: String, _ outcomes: [Outcome]) {
        state.withLock { $0.scripts[number, default: []] += outcomes }
    }

    /// Pretends the provider already holds a message (as if sent before a crash), which its message list shows from
    /// `listedFrom` (at once by default).
    func preload(to: String, body: String, at: Date, listedFrom: Date? = nil) -> String {
        let sid = Self.makeSID()
        state.withLock { $0.taken.append(Taken(to: to, body: body, sid: sid, at: at, listedFrom: listedFrom)) }
        return sid
    }

    var taken: [Taken] { state.withLock { $0.taken } }
    func attempts(to number: String) -> Int { state.withLock { $0.attempts[number] ?? 0 } }
    var lookups: Int { state.withLock { $0.lookups } }
    /// Every look-up fails from now on (as with a key that may not read the message list).
    func failLookups() { state.withLock { $0.lookupsFail = true } }

    func send(_ message: OutgoingSMS) async throws(ProviderFailure) -> ProviderReceipt {
        let outcome = state.withLock { state -> Outcome in
            state.attempts[message.to, default: 0] += 1
            guard var script = state.scripts[message.to], !script.isEmpty else { return .accept }
            let next = script.removeFirst()
            state.scripts[message.to] = script
            return next
        }
        return try await answer(outcome, to: message)
    }

    private func answer(_ outcome: Outcome, to message: OutgoingSMS) async throws(ProviderFailure) -> ProviderReceipt {
        switch outcome {
        case .accept:
            return ProviderReceipt(
                sid: take(message), status: "queued", price: Decimal(string: "-0.0079"), priceUnit: "USD")
        case .acceptAs(let sid):
            return ProviderReceipt(sid: take(message, sid: sid), status: "queued")
        case .fail(let failure):
            throw failure
        case .acceptButLoseTheAnswer:
            _ = take(message)
            throw ProviderFailure(kind: .unknownFate, message: "the answer was lost")
        case .acceptButLoseTheAnswerAndListItLate(let lag):
            _ = take(message, listedAfter: lag)
            throw ProviderFailure(kind: .unknownFate, message: "the answer was lost")
        case .loseTheRequest:
            throw ProviderFailure(kind: .unknownFate, message: "the request was lost")
        case .meanwhile(let action, let then):
            do {
                try await action()
            } catch {
                Issue.record("the scripted action failed: \(error)")
            }
            return try await answer(then, to: message)
        }
    }

    func find(to: String, body: String, since: Date, excluding: Set<String>) async throws(ProviderFailure)
        -> ProviderLookup
    {
        let refused = state.withLock { state in
            state.lookups += 1
            return state.lookupsFail
        }
        if refused { throw ProviderFailure(kind: .retryable(retryAfter: nil), message: "scripted: look-ups refused") }
        return state.withLock { state in
            let now = Date()
            let match = state.taken.first {
                $0.to == to && $0.body == body && $0.at >= since.addingTimeInterval(-1) && $0.listedFrom <= now
                    && !excluding.contains($0.sid)
            }
            return match.map { .found(ProviderReceipt(sid: $0.sid, status: "sent")) } ?? .notFound
        }
    }

    func shutdown() async {}

    private func take(_ message: OutgoingSMS, sid: String = makeSID(), listedAfter lag: Duration = .zero) -> String {
        let now = Date()
        let listed = now.addingTimeInterval(Double(lag.components.seconds) + Double(lag.components.attoseconds) / 1e18)
        state.withLock {
            $0.taken.append(Taken(to: message.to, body: message.body, sid: sid, at: now, listedFrom: listed))
        }
        return sid
    }

    static func makeSID() -> String {
        "SM" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }
}

extension ProviderFailure {
    /// An error answer as the provider sorts it (a 500, 502 or 504 answer to a send is an unknown fate).
    static func twilio(_ status: Int, code: Int?, retryAfter: Duration? = nil) -> ProviderFailure {
        var failure = TwilioProvider.failure(
            status: status,
            headers: HTTPHeaders(retryAfter.map { [("Retry-After", String($0.components.seconds))] } ?? []),
            body: Data((code.map { #"{"code": \#($0)}"# } ?? "").utf8),
            toASend: true)
        failure.message = "scripted \(status)"
        return failure
    }
}

/// SMS senders over a harness: started in a service group, stopped gracefully at the end.
struct SMSSenders {
    /// `HH:MM` an hour before and an hour after `date`, in UTC: quiet hours that `date` falls in.
    static func utcHoursAround(_ date: Date) -> (start: String, end: String) {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        func clock(_ date: Date) -> String {
            let parts = utc.dateComponents([.hour, .minute], from: date)
            return String(format: "%02d:%02d", parts.hour!, parts.minute!)
        }
        return (clock(date.addingTimeInterval(-3600)), clock(date.addingTimeInterval(3600)))
    }

    /// A sender for tests: quick retries, and a message list that settles in half a second.
    static func configuration(
        instance: String = "test-\(UUID().uuidString.prefix(8))",
        quietHours: (start: String, end: String)? = nil,
        orphanScanInterval: Duration? = nil,
        unknownOutcomeSettle: Duration = .milliseconds(500)
    ) -> SMSSenderConfiguration {
        SMSSenderConfiguration(
            instance: instance, lease: .seconds(30), maximumAttempts: 3, retryBase: .milliseconds(20),
            retryCap: .milliseconds(200), quietHours: quietHours, maximumInFlight: 8, pollInterval: .milliseconds(50),
            orphanScanInterval: orphanScanInterval, unknownOutcomeSettle: unknownOutcomeSettle)
    }

    /// Runs `count` senders sharing one provider and one bucket (in Redis under `bucketKey`, a new key by
    /// default) while `body` runs.
    static func run(
        _ harness: MembersHarness,
        provider: ScriptedProvider,
        count: Int = 1,
        rate: Double = 10_000,
        capacity: Double = 10_000,
        bucketKey: String = "test-sms:\(UUID().uuidString.prefix(8)):account",
        configuration: @escaping (Int) -> SMSSenderConfiguration = { _ in SMSSenders.configuration() },
        _ body: () async throws -> Void
    ) async throws {
        let senders = (0..<count).map { index in
            SMSSender(
                queue: harness.sms.queue,
                provider: provider,
                limiter: SMSRateLimiter(
                    redis: harness.redis, buckets: [.init(key: bucketKey, rate: rate, capacity: capacity)]),
                cipher: harness.cipher,
                configuration: configuration(index),
                wakeup: index == 0 ? harness.sms.wakeup : SMSWakeup(),
                activity: index == 0 ? harness.sms.activity : SMSActivity(),
                logger: harness.logger
            )
        }
        try await withServices(senders, body)
    }
}

extension MembersHarness {
    /// A household and `count` members with distinct numbers; returns the member ids and their E.164 numbers.
    func makeMembers(_ count: Int, timezone: String = "Europe/London") async throws -> [(id: String, phone: String)] {
        let household = try await createHousehold("SMS", timezone: timezone)
        var members: [(String, String)] = []
        for index in 0..<count {
            let phone = "+1415867\(String(format: "%04d", 1000 + index))"
            let member = try await result(
                "member.add",
                [
                    "household_id": .string(household), "name": .string("M\(index)"), "phone": .string(phone),
                    "opt_in_state": "opted_in",
                ])
            members.append((try #require(member["id"]?.stringValue), phone))
        }
        return members
    }

    /// Polls `sms.status` until the message is in one of `statuses`.
    @discardableResult
    func waitForMessage(
        _ id: String, in statuses: Set<String>, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        var last: JSONValue = .null
        for _ in 0..<400 {
            last = try await result("sms.status", ["message_id": .string(id)])
            if let status = last["status"]?.stringValue, statuses.contains(status) { return last }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("message never reached \(statuses): \(last)", sourceLocation: sourceLocation)
        return last
    }

    /// Polls `sms.status` of a batch until it is done.
    func waitForBatch(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        var last: JSONValue = .null
        for _ in 0..<800 {
            last = try await result("sms.status", ["batch_id": .string(id)])
            if last["done"] == true { return last }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("batch never finished: \(last)", sourceLocation: sourceLocation)
        return last
    }
}
