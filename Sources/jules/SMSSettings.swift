import ArgumentParser
import Foundation
import JulesCore
import JulesSecurity
import Logging
import NIOCore
import Redis

/// SMS settings, from `JULES_SMS_*`, `JULES_TWILIO_API_URL` and Twilio's own `TWILIO_*` variables.
struct SMSSettings {
    enum ProviderChoice: String {
        case twilio, outbox
    }

    var provider: ProviderChoice
    var twilio: TwilioProvider.Configuration?
    var rate: Double
    var burst: Double
    var senderRate: Double?
    var keyPrefix: String
    var maximumBatch: Int
    var sender: SMSSenderConfiguration

    init(instanceID: String) throws {
        let sid = Environment.string("TWILIO_ACCOUNT_SID")
        let token = Environment.string("TWILIO_AUTH_TOKEN")
        if let forced = Environment.string("JULES_SMS_PROVIDER") {
            guard let choice = ProviderChoice(rawValue: forced) else {
                throw ValidationError("JULES_SMS_PROVIDER must be twilio or outbox, not \"\(forced)\"")
            }
            provider = choice
        } else {
            provider = sid != nil && token != nil ? .twilio : .outbox
        }

        let timeoutMilliseconds = try Environment.integer(
            "JULES_SMS_TIMEOUT_MS", default: 10_000, range: 100...120_000)
        let leaseSeconds = try Environment.integer("JULES_SMS_LEASE_SECONDS", default: 60, range: 1...3600)
        guard leaseSeconds * 1000 > timeoutMilliseconds else {
            throw ValidationError(
                "JULES_SMS_LEASE_SECONDS (\(leaseSeconds)) must be longer than JULES_SMS_TIMEOUT_MS "
                    + "(\(timeoutMilliseconds) ms): a row being sent must not be taken over by another instance")
        }
        let maximumInFlight = try Environment.integer("JULES_SMS_MAX_IN_FLIGHT", default: 32, range: 1...1000)

        if provider == .twilio {
            guard let sid, let token else {
                throw ValidationError(
                    "JULES_SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
            }
            guard Self.isSID(sid, prefix: "AC") else {
                throw ValidationError("TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits")
            }
            guard token.utf8.count <= 256, !token.contains(where: \.isWhitespace) else {
                throw ValidationError("TWILIO_AUTH_TOKEN must be at most 256 characters without spaces")
            }
            let sender: TwilioProvider.Sender
            if let from = Environment.string("JULES_SMS_FROM") {
                guard from.hasPrefix("+"), (8...16).contains(from.utf8.count), from.dropFirst().allSatisfy(\.isASCII),
                    from.dropFirst().allSatisfy(\.isNumber)
                else {
                    throw ValidationError("JULES_SMS_FROM must be a phone number in E.164 form, such as +14155550100")
                }
                sender = .number(from)
            } else if let service = Environment.string("JULES_SMS_MESSAGING_SERVICE_SID") {
                guard Self.isSID(service, prefix: "MG") else {
                    throw ValidationError("JULES_SMS_MESSAGING_SERVICE_SID must be MG followed by 32 hex digits")
                }
                sender = .messagingService(service)
            } else {
                throw ValidationError(
                    "the twilio provider needs a sender: JULES_SMS_FROM or JULES_SMS_MESSAGING_SERVICE_SID")
            }
            let base = Environment.string("JULES_TWILIO_API_URL") ?? "https://api.twilio.com"
            guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme),
                url.host != nil, url.query == nil
            else {
                throw ValidationError(
                    "JULES_TWILIO_API_URL must be an http or https URL such as https://api.twilio.com")
            }
            let callback = Environment.string("JULES_SMS_STATUS_CALLBACK_URL")
            if let callback {
                guard let url = URL(string: callback), let scheme = url.scheme, ["http", "https"].contains(scheme),
                    url.host != nil, callback.utf8.count <= 2048
                else {
                    throw ValidationError("JULES_SMS_STATUS_CALLBACK_URL must be an http or https URL")
                }
            }
            twilio = TwilioProvider.Configuration(
                baseURL: base, accountSID: sid, authToken: token, sender: sender, statusCallbackURL: callback,
                timeout: .milliseconds(timeoutMilliseconds), maximumConnections: maximumInFlight)
        }

        rate = Double(try Environment.integer("JULES_SMS_RATE", default: 80, range: 1...100_000))
        let defaultBurst = max(1, Int((rate / 10).rounded(.down)))
        burst = Double(try Environment.integer("JULES_SMS_BURST", default: defaultBurst, range: 1...100_000))
        senderRate = try Environment.string("JULES_SMS_SENDER_RATE").map { _ in
            Double(try Environment.integer("JULES_SMS_SENDER_RATE", default: 1, range: 1...100_000))
        }
        keyPrefix = Environment.string("JULES_SMS_KEY_PREFIX") ?? "jules:sms:"
        guard keyPrefix.utf8.count <= 64, keyPrefix.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ValidationError("JULES_SMS_KEY_PREFIX must be 1 to 64 printable ASCII characters without spaces")
        }
        maximumBatch = try Environment.integer("JULES_SMS_MAX_BATCH", default: 10_000, range: 1...100_000)

        let quietHours: (String, String)?
        let quietText = Environment.string("JULES_SMS_QUIET_HOURS") ?? "21:00-08:00"
        if quietText == "off" {
            quietHours = nil
        } else {
            let parts = quietText.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, let start = Self.clockTime(parts[0]), let end = Self.clockTime(parts[1]),
                start != end
            else {
                throw ValidationError(
                    "JULES_SMS_QUIET_HOURS must be HH:MM-HH:MM (local time of each household, such as 21:00-08:00) "
                        + "or off"
                )
            }
            quietHours = (start, end)
        }
        sender = SMSSenderConfiguration(
            instance: instanceID,
            lease: .seconds(leaseSeconds),
            maximumAttempts: try Environment.integer("JULES_SMS_MAX_ATTEMPTS", default: 3, range: 1...20),
            retryBase: .milliseconds(
                try Environment.integer("JULES_SMS_RETRY_BASE_MS", default: 1000, range: 1...600_000)),
            retryCap: .milliseconds(
                try Environment.integer("JULES_SMS_RETRY_MAX_MS", default: 60_000, range: 1...3_600_000)),
            quietHours: quietHours,
            maximumInFlight: maximumInFlight,
            unknownOutcomeSettle: .seconds(
                try Environment.integer("JULES_SMS_UNKNOWN_OUTCOME_SETTLE_SECONDS", default: 60, range: 0...3600))
        )
    }

    /// The rate buckets: the account's, and the sender number's when it has a limit.
    func buckets() -> [SMSRateLimiter.Bucket] {
        var buckets = [
            SMSRateLimiter.Bucket(key: keyPrefix + "bucket:account", rate: rate, capacity: burst)
        ]
        if let senderRate, let twilio {
            let name: String
            switch twilio.sender {
            // The number is ours, not a member's; it is still kept out of key names.
            case .number(let number):
                name = String(
                    number.utf8.reduce(UInt64(14_695_981_039_346_656_037)) {
                        ($0 ^ UInt64($1)) &* 1_099_511_628_211
                    }, radix: 16)
            case .messagingService(let sid): name = sid
            }
            let senderBurst = max(1, min(burst, (senderRate / 10).rounded(.down)))
            buckets.append(.init(key: keyPrefix + "bucket:sender:" + name, rate: senderRate, capacity: senderBurst))
        }
        return buckets
    }

    func makeProvider(eventLoopGroup: any EventLoopGroup, logger: Logger) -> any SMSProvider {
        if let twilio {
            return TwilioProvider(configuration: twilio, eventLoopGroup: eventLoopGroup, logger: logger)
        }
        return OutboxProvider()
    }

    /// `HH:MM` on a 24-hour clock, as given.
    private static func clockTime(_ text: String) -> String? {
        let parts = text.split(separator: ":")
        // Two ASCII digits each: Int alone would also take "+1" or "-0", which PostgreSQL's time refuses.
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy { ("0"..."9").contains($0) } }),
            let hours = Int(parts[0]), let minutes = Int(parts[1]), (0...23).contains(hours), (0...59).contains(minutes)
        else { return nil }
        return text
    }

    private static func isSID(_ text: String, prefix: String) -> Bool {
        text.utf8.count == 34 && text.hasPrefix(prefix)
            && text.dropFirst(2).allSatisfy { $0.isHexDigit && ($0.isNumber || $0.isLowercase) }
    }
}
