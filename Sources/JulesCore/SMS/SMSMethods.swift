import Foundation
import JSONRPC
import Logging
import Postgres

/// The SMS capability as the methods see it: the queue, and what `sms.stats` reports of the sender.
public struct SMS: Sendable {
    public var queue: SMSQueue
    /// Woken when a message is queued, so the sender in this process starts at once.
    public var wakeup: SMSWakeup
    /// What this instance's sender saw of the provider, for `health.check`.
    public var activity: SMSActivity
    /// The provider's name (`twilio`, `outbox`).
    public var providerName: String
    /// The account limit and the sender number's, in segments per second.
    public var rate: Double
    public var senderRate: Double?
    /// Largest `sms.sendBatch`.
    public var maximumBatch: Int
    let cipher: PIICipher

    public init(
        database: PostgresClient,
        cipher: PIICipher,
        wakeup: SMSWakeup = SMSWakeup(),
        activity: SMSActivity = SMSActivity(),
        providerName: String,
        rate: Double,
        senderRate: Double? = nil,
        maximumBatch: Int = 10_000
    ) {
        self.queue = SMSQueue(database: database)
        self.cipher = cipher
        self.wakeup = wakeup
        self.activity = activity
        self.providerName = providerName
        self.rate = rate
        self.senderRate = senderRate
        self.maximumBatch = maximumBatch
    }

    public var methods: [any JSONRPCMethod] {
        [
            SMSSendMethod(sms: self),
            SMSSendBatchMethod(sms: self),
            SMSStatusMethod(sms: self),
            SMSStatsMethod(sms: self),
            SMSStatusCallbackMethod(sms: self),
            SMSOutboxMethod(sms: self),
        ]
    }

    /// Checks one message; the error names the field under `prefix` (`params` or `params.messages[3]`).
    func prepare(
        memberID: UUID,
        body: String,
        priority: SMSPriority,
        recipient: SMSQueue.Recipient?,
        prefix: String
    ) throws(JSONRPCError) -> SMSQueue.NewMessage {
        let body = try SMSInput.body(body, field: "\(prefix).body")
        switch recipient ?? .unknown {
        case .reachable: break
        case .unknown, .deleted:
            throw .notFound(
                "No live member has this id", details: ["member_id": .string(memberID.lowercasedText)])
        case .optedOut:
            throw .forbidden(
                "The member opted out of messages",
                details: ["member_id": .string(memberID.lowercasedText), "reason": "opted_out"])
        case .pending where priority == .bulk:
            throw .forbidden(
                "The member has not opted in yet: only replies may be sent",
                details: ["member_id": .string(memberID.lowercasedText), "reason": "not_opted_in"])
        case .pending: break
        }
        return SMSQueue.NewMessage(
            id: UUID(), memberID: memberID, body: body, priority: priority, encoding: SMSEncoding(body: body),
            delayMilliseconds: 0)
    }
}

/// `sms.send`: queues one message to a member.
struct SMSSendMethod: JSONRPCMethod {
    static let name = "sms.send"

    struct Params: Decodable, Sendable {
        var memberID: UUID
        var body: String
        var priority: SMSPriority?

        enum CodingKeys: String, CodingKey {
            case body, priority
            case memberID = "member_id"
        }
    }

    struct Result: Encodable, Sendable {
        var messageID: String
        var status: SMSStatus
        var segments: Int
        var encoding: SMSEncoding.Alphabet

        enum CodingKeys: String, CodingKey {
            case status, segments, encoding
            case messageID = "message_id"
        }
    }

    let sms: SMS

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        _ = try SMSInput.body(params.body, field: "params.body")
        let recipients = try await sms.queue.recipients([params.memberID])
        let message = try sms.prepare(
            memberID: params.memberID, body: params.body, priority: params.priority ?? .bulk,
            recipient: recipients[params.memberID], prefix: "params")
        let inserted = try await sms.queue.enqueue([message], batch: nil, correlationID: context.correlationID)
        guard inserted.contains(message.id) else {
            // Deleted between the check and the insert.
            throw JSONRPCError.notFound(
                "No live member has this id", details: ["member_id": .string(params.memberID.lowercasedText)])
        }
        sms.wakeup.signal()
        context.logger.info(
            "SMS queued",
            metadata: [
                "message_id": .string(message.id.lowercasedText), "member_id": .string(params.memberID.lowercasedText),
                "segments": .stringConvertible(message.encoding.segments),
            ])
        return Result(
            messageID: message.id.lowercasedText, status: .queued, segments: message.encoding.segments,
            encoding: message.encoding.alphabet)
    }
}

/// `sms.sendBatch`: queues many messages at once; bad entries are refused one by one and the rest go in.
struct SMSSendBatchMethod: JSONRPCMethod {
    static let name = "sms.sendBatch"

    struct Params: Decodable, Sendable {
        var messages: [JSONValue]
        var spreadSeconds: Double?
        var priority: SMSPriority?

        enum CodingKeys: String, CodingKey {
            case messages, priority
            case spreadSeconds = "spread_seconds"
        }
    }

    /// An entry that was not queued, and why: the error object a single `sms.send` would have answered.
    struct Rejection: Encodable, Sendable {
        var index: Int
        var error: ErrorObject

        init(index: Int, error: JSONRPCError) {
            self.index = index
            var data = JSONObject()
            data["type"] = .string(error.type)
            for (key, value) in error.details { data[key] = value }
            self.error = ErrorObject(code: error.code, message: error.message, data: .object(data))
        }
    }

    struct ErrorObject: Encodable, Sendable {
        var code: Int
        var message: String
        var data: JSONValue
    }

    struct Result: Encodable, Sendable {
        var batchID: String
        var accepted: Int
        var rejected: [Rejection]
        /// One per entry, in order: the message's id, or `null` where the entry was rejected.
        var messageIDs: [String?]

        enum CodingKeys: String, CodingKey {
            case accepted, rejected
            case batchID = "batch_id"
            case messageIDs = "message_ids"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(batchID, forKey: .batchID)
            try container.encode(accepted, forKey: .accepted)
            try container.encode(rejected, forKey: .rejected)
            var ids = container.nestedUnkeyedContainer(forKey: .messageIDs)
            for id in messageIDs {
                if let id { try ids.encode(id) } else { try ids.encodeNil() }
            }
        }
    }

    /// The longest window a batch may be spread over: a day.
    static let maximumSpreadSeconds = 86_400.0

    let sms: SMS

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        guard !params.messages.isEmpty else {
            throw JSONRPCError.invalidParams(field: "params.messages", reason: "must hold at least one message")
        }
        guard params.messages.count <= sms.maximumBatch else {
            throw JSONRPCError.invalidParams(
                field: "params.messages", reason: "must hold at most \(sms.maximumBatch) messages")
        }
        if let spread = params.spreadSeconds, !(spread.isFinite && (0...Self.maximumSpreadSeconds).contains(spread)) {
            throw JSONRPCError.invalidParams(
                field: "params.spread_seconds", reason: "must be between 0 and \(Int(Self.maximumSpreadSeconds))")
        }
        let defaultPriority = params.priority ?? .bulk

        // First pass: the shape of each entry, and the members to look up.
        var parsed: [Int: (UUID, String, SMSPriority)] = [:]
        var rejected: [Rejection] = []
        for (index, value) in params.messages.enumerated() {
            do {
                parsed[index] = try Self.parse(value, prefix: "params.messages[\(index)]", default: defaultPriority)
            } catch {
                rejected.append(Rejection(index: index, error: error))
            }
        }
        let recipients = try await sms.queue.recipients(Set(parsed.values.map(\.0)))

        // Second pass: who may be texted.
        var messages: [(index: Int, message: SMSQueue.NewMessage)] = []
        messages.reserveCapacity(parsed.count)
        for index in parsed.keys.sorted() {
            let (memberID, body, priority) = parsed[index]!
            do {
                let message = try sms.prepare(
                    memberID: memberID, body: body, priority: priority, recipient: recipients[memberID],
                    prefix: "params.messages[\(index)]")
                messages.append((index, message))
            } catch {
                rejected.append(Rejection(index: index, error: error))
            }
        }
        // Spaced evenly over the window, in the order given.
        if let spread = params.spreadSeconds, spread > 0, !messages.isEmpty {
            let step = spread * 1000 / Double(messages.count)
            for position in messages.indices {
                messages[position].message.delayMilliseconds = Int64((Double(position) * step).rounded(.down))
            }
        }
        let batchID = UUID()
        let inserted = try await sms.queue.enqueue(
            messages.map(\.message), batch: (batchID, params.messages.count, params.spreadSeconds),
            correlationID: context.correlationID)
        var ids = [String?](repeating: nil, count: params.messages.count)
        for (index, message) in messages {
            if inserted.contains(message.id) {
                ids[index] = message.id.lowercasedText
            } else {
                let error = JSONRPCError.notFound(
                    "No live member has this id", details: ["member_id": .string(message.memberID.lowercasedText)])
                rejected.append(Rejection(index: index, error: error))
            }
        }
        rejected.sort { $0.index < $1.index }
        if !inserted.isEmpty { sms.wakeup.signal() }
        context.logger.info(
            "SMS batch queued",
            metadata: [
                "batch_id": .string(batchID.lowercasedText), "accepted": .stringConvertible(inserted.count),
                "rejected": .stringConvertible(rejected.count),
            ])
        return Result(batchID: batchID.lowercasedText, accepted: inserted.count, rejected: rejected, messageIDs: ids)
    }

    /// One entry, checked field by field so that its error names the field.
    static func parse(
        _ value: JSONValue, prefix: String, default defaultPriority: SMSPriority
    ) throws(JSONRPCError) -> (UUID, String, SMSPriority) {
        guard case .object(let object) = value else {
            throw .invalidParams(field: prefix, reason: "must be an object with member_id and body")
        }
        guard let memberValue = object["member_id"] else {
            throw .invalidParams(field: "\(prefix).member_id", reason: "is required")
        }
        guard case .string(let memberText) = memberValue, let memberID = UUID(uuidString: memberText) else {
            throw .invalidParams(field: "\(prefix).member_id", reason: "must be a UUID")
        }
        guard let bodyValue = object["body"] else {
            throw .invalidParams(field: "\(prefix).body", reason: "is required")
        }
        guard case .string(let body) = bodyValue else {
            throw .invalidParams(field: "\(prefix).body", reason: "must be a string")
        }
        var priority = defaultPriority
        if let priorityValue = object["priority"] {
            guard case .string(let text) = priorityValue, let given = SMSPriority(rawValue: text) else {
                throw .invalidParams(field: "\(prefix).priority", reason: "must be \"reply\" or \"bulk\"")
            }
            priority = given
        }
        return (memberID, body, priority)
    }
}

/// `sms.status`: one message, or a batch's counts.
struct SMSStatusMethod: JSONRPCMethod {
    static let name = "sms.status"

    struct Params: Decodable, Sendable {
        var messageID: UUID?
        var batchID: UUID?

        enum CodingKeys: String, CodingKey {
            case messageID = "message_id"
            case batchID = "batch_id"
        }
    }

    struct BatchResult: Encodable, Sendable {
        var batchID: String
        /// The messages queued by the batch (its rejected entries are not messages).
        var total: Int
        /// The entries the batch was given, rejected ones included.
        var entries: Int
        var counts: [String: Int]
        /// Nothing of the batch is queued or being sent any more.
        var done: Bool

        enum CodingKeys: String, CodingKey {
            case total, entries, counts, done
            case batchID = "batch_id"
        }
    }

    enum Result: Encodable, Sendable {
        case message(SMSMessageRecord)
        case batch(BatchResult)

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .message(let record): try record.encode(to: encoder)
            case .batch(let batch): try batch.encode(to: encoder)
            }
        }
    }

    let sms: SMS

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        switch (params.messageID, params.batchID) {
        case (let id?, nil):
            guard let record = try await sms.queue.message(id: id) else {
                throw JSONRPCError.notFound(
                    "No message has this id", details: ["message_id": .string(id.lowercasedText)])
            }
            return .message(record)
        case (nil, let id?):
            guard let (entries, counts) = try await sms.queue.batchCounts(id: id) else {
                throw JSONRPCError.notFound("No batch has this id", details: ["batch_id": .string(id.lowercasedText)])
            }
            var all: [String: Int] = [:]
            for status in SMSStatus.allCases { all[status.rawValue] = counts[status] ?? 0 }
            let pending = (counts[.queued] ?? 0) + (counts[.sending] ?? 0)
            return .batch(
                BatchResult(
                    batchID: id.lowercasedText, total: counts.values.reduce(0, +), entries: entries, counts: all,
                    done: pending == 0))
        default:
            throw JSONRPCError.invalidParams(field: "params", reason: "give exactly one of message_id and batch_id")
        }
    }
}

/// `sms.stats`: the queue by status, retries, and the rate of every instance together.
struct SMSStatsMethod: JSONRPCMethod {
    static let name = "sms.stats"

    struct Params: Decodable, Sendable {}

    struct Rate: Encodable, Sendable {
        /// The account limit, in segments per second.
        var limit: Double
        var senderLimit: Double?
        /// Segments per second handed over in the last 10 seconds, by every instance.
        var current: Double

        enum CodingKeys: String, CodingKey {
            case limit, current
            case senderLimit = "sender_limit"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(limit, forKey: .limit)
            try container.encode(senderLimit, forKey: .senderLimit)
            try container.encode(current, forKey: .current)
        }
    }

    struct Result: Encodable, Sendable {
        var queued: Int
        var sending: Int
        var sent: Int
        var delivered: Int
        var failed: Int
        var undelivered: Int
        /// Messages that needed more than one attempt.
        var retried: Int
        var provider: String
        var rate: Rate
        /// How long the oldest message ready to go has waited, in seconds (0 when none waits).
        var oldestReadySeconds: Double

        enum CodingKeys: String, CodingKey {
            case queued, sending, sent, delivered, failed, undelivered, retried, provider, rate
            case oldestReadySeconds = "oldest_ready_seconds"
        }
    }

    static let window: Duration = .seconds(10)

    let sms: SMS

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        let totals = try await sms.queue.totals(window: Self.window)
        let count = { (status: SMSStatus) in totals.counts[status] ?? 0 }
        return Result(
            queued: count(.queued), sending: count(.sending), sent: count(.sent), delivered: count(.delivered),
            failed: count(.failed), undelivered: count(.undelivered), retried: totals.retried,
            provider: sms.providerName,
            rate: Rate(
                limit: sms.rate, senderLimit: sms.senderRate,
                current: (Double(totals.recentSegments) / 10 * 100).rounded() / 100),
            oldestReadySeconds: max(0, ((totals.oldestReadyAge ?? 0) * 1000).rounded() / 1000)
        )
    }
}

/// `sms.statusCallback`: a delivery report from the provider (through the webhook adapter).
struct SMSStatusCallbackMethod: JSONRPCMethod {
    static let name = "sms.statusCallback"

    /// Twilio posts many more fields (AccountSid, From, To, ApiVersion, …); only these are read.
    struct Params: Decodable, Sendable {
        var messageSID: String
        var messageStatus: String
        var errorCode: JSONValue?
        var errorMessage: String?

        enum CodingKeys: String, CodingKey {
            case messageSID = "MessageSid"
            case messageStatus = "MessageStatus"
            case errorCode = "ErrorCode"
            case errorMessage = "ErrorMessage"
        }
    }

    struct Result: Encodable, Sendable {
        /// The message with this sid; `null` while the report is held.
        var messageID: String?
        var status: SMSStatus
        /// `false` when the report was stale or repeated (the message was already at or past that status), or held.
        var changed: Bool
        /// The sid is not recorded yet (the provider called back before its answer to the send was stored): the
        /// report is kept and applied when it is.
        var held: Bool

        enum CodingKeys: String, CodingKey {
            case status, changed, held
            case messageID = "message_id"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(messageID, forKey: .messageID)
            try container.encode(status, forKey: .status)
            try container.encode(changed, forKey: .changed)
            try container.encode(held, forKey: .held)
        }
    }

    let sms: SMS

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        guard let sid = try InputRules.messageSID(params.messageSID, field: "params.MessageSid") else {
            throw JSONRPCError.invalidParams(field: "params.MessageSid", reason: "is required")
        }
        let status: SMSStatus?
        switch params.messageStatus {
        case "accepted", "queued", "scheduled", "sending": status = nil
        case "sent": status = .sent
        case "delivered", "read": status = .delivered
        case "undelivered": status = .undelivered
        case "failed", "canceled": status = .failed
        default:
            throw JSONRPCError.invalidParams(
                field: "params.MessageStatus",
                reason: "must be one of Twilio's message statuses (queued, sent, delivered, undelivered, failed, …)")
        }
        let errorCode = try Self.errorCode(params.errorCode)
        let outcome = try await SMSDeliveryReports(queue: sms.queue).receive(
            sid: sid, status: status, errorCode: errorCode,
            // Stored and shown by sms.status: masked like the provider's own failures.
            // Masked before it is cut: a number cut short at the limit could slip under the masking's length.
            errorMessage: params.errorMessage.map { PhoneNumberRedaction.redact($0).truncated(toScalars: 1024) },
            correlationID: context.correlationID, logger: context.logger)
        switch outcome {
        case .applied(let report):
            return Result(
                messageID: report.id.lowercasedText, status: report.status, changed: report.changed, held: false)
        case .held:
            return Result(messageID: nil, status: status ?? .sent, changed: false, held: true)
        case .unknown:
            throw JSONRPCError.notFound("No message has this provider sid", details: ["MessageSid": .string(sid)])
        }
    }

    /// Twilio sends the code as a form field, so as a string; a number is taken too.
    static func errorCode(_ value: JSONValue?) throws(JSONRPCError) -> Int? {
        switch value {
        case nil, .null: return nil
        case .string(let text) where text.isEmpty: return nil
        case .string(let text):
            // ASCII digits only, at most six (the schema's pattern): Int alone would take "+21610" or "-0".
            guard text.utf8.count <= 6, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let code = Int(text)
            else {
                throw .invalidParams(field: "params.ErrorCode", reason: "must be a provider error code (digits)")
            }
            return code
        case .number:
            guard let code = value?.intValue, (0...999_999).contains(code) else {
                throw .invalidParams(field: "params.ErrorCode", reason: "must be a provider error code (digits)")
            }
            return code
        default:
            throw .invalidParams(field: "params.ErrorCode", reason: "must be a provider error code (digits)")
        }
    }
}

/// `sms.outbox`: what the outbox provider kept, oldest first.
struct SMSOutboxMethod: JSONRPCMethod {
    static let name = "sms.outbox"

    struct Params: Decodable, Sendable {
        var memberID: UUID?
        var after: UUID?
        var limit: Int?

        enum CodingKeys: String, CodingKey {
            case after, limit
            case memberID = "member_id"
        }
    }

    struct Result: Encodable, Sendable {
        var messages: [OutboxEntry]
        /// Give as `after` for the next page; `null` on the last page.
        var nextAfter: String?

        enum CodingKeys: String, CodingKey {
            case messages
            case nextAfter = "next_after"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(messages, forKey: .messages)
            try container.encode(nextAfter, forKey: .nextAfter)
        }
    }

    let sms: SMS

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        let limit = try InputRules.limit(params.limit)
        let messages = try await sms.queue.outbox(memberID: params.memberID, after: params.after, limit: limit)
        return Result(messages: messages, nextAfter: messages.count == limit ? messages.last?.messageID : nil)
    }
}
