import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Twilio's Programmable Messaging REST API: `POST …/Messages.json` to send, `GET …/Messages.json` to look a
/// message up after a crash or a timeout.
public final class TwilioProvider: SMSProvider {
    public struct Configuration: Sendable {
        /// Where the API is: `https://api.twilio.com`, or a local server in tests.
        public var baseURL: String
        public var accountSID: String
        public var authToken: String
        public var sender: Sender
        /// Where Twilio posts delivery reports, if anywhere.
        public var statusCallbackURL: String?
        /// How long one request may take, from the start to the last byte of the answer.
        public var timeout: Duration
        /// Connections kept open to the API.
        public var maximumConnections: Int

        public init(
            baseURL: String,
            accountSID: String,
            authToken: String,
            sender: Sender,
            statusCallbackURL: String? = nil,
            timeout: Duration = .seconds(10),
            maximumConnections: Int = 32
        ) {
            self.baseURL = baseURL
            self.accountSID = accountSID
            self.authToken = authToken
            self.sender = sender
            self.statusCallbackURL = statusCallbackURL
            self.timeout = timeout
            self.maximumConnections = maximumConnections
        }
    }

    /// Who the messages come from.
    public enum Sender: Sendable, Equatable {
        /// A phone number in E.164 form (`From`).
        case number(String)
        /// A Messaging Service, which picks the number (`MessagingServiceSid`).
        case messagingService(String)
    }

    /// The largest answer read: a message is about 1 KiB, a page of a hundred about 100 KiB.
    static let maximumResponseBytes = 4 * 1024 * 1024
    /// Messages asked for per page of the list, and the most pages read in one look-up.
    static let pageSize = 100
    static let maximumPages = 20

    public var name: String { "twilio" }
    public let configuration: Configuration
    private let client: HTTPClient
    /// The base URL without a trailing slash.
    private let base: String
    private let messagesURL: String
    private let authorization: String
    private let logger: Logger

    public init(configuration: Configuration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        self.messagesURL = "\(base)/2010-04-01/Accounts/\(configuration.accountSID)/Messages.json"
        let credentials = Data("\(configuration.accountSID):\(configuration.authToken)".utf8).base64EncodedString()
        self.authorization = "Basic \(credentials)"
        self.logger = logger
        let timeout = TimeAmount(configuration.timeout)
        var clientConfiguration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: min(timeout, .seconds(5)), read: timeout, write: timeout),
            connectionPool: .init(
                idleTimeout: .seconds(60),
                concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maximumConnections
            )
        )
        clientConfiguration.httpVersion = .automatic
        self.client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: clientConfiguration)
    }

    public func shutdown() async {
        do {
            try await client.shutdown()
        } catch {
            logger.warning("the Twilio HTTP client did not shut down cleanly", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Sending

    public func send(_ message: OutgoingSMS) async throws(ProviderFailure) -> ProviderReceipt {
        var form: [(String, String)] = [("To", message.to), ("Body", message.body)]
        switch configuration.sender {
        case .number(let number): form.append(("From", number))
        case .messagingService(let sid): form.append(("MessagingServiceSid", sid))
        }
        if let callback = configuration.statusCallbackURL { form.append(("StatusCallback", callback)) }

        var request = HTTPClientRequest(url: messagesURL)
        request.method = .POST
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))

        let (status, headers, body) = try await perform(request, sent: true)
        guard (200..<300).contains(status) else {
            throw Self.failure(status: status, headers: headers, body: body, toASend: true)
        }
        guard let resource = try? JSONDecoder().decode(MessageResource.self, from: body), let receipt = resource.receipt
        else {
            // Accepted, but we cannot tell as what: ask again later rather than send it twice.
            throw ProviderFailure(
                kind: .unknownFate, httpStatus: status, message: "Twilio accepted the message with an unreadable answer"
            )
        }
        return receipt
    }

    // MARK: Looking up

    /// Looks through the message list for the message: to `to`, from this sender (the `From` number, or a message
    /// of this Messaging Service), created at or after `since` (less the clock skew we allow), not one of `excluding`,
    /// with a body that is the one sent or its Smart-Encoded form (see ``SmartEncodingMatch``). The row's id is no
    /// help here: Twilio keeps nothing of ours on a message that the list would show.
    public func find(to: String, body: String, since: Date, excluding: Set<String>) async throws(ProviderFailure)
        -> ProviderLookup
    {
        let wanted = Wanted(body: body, earliest: since.addingTimeInterval(-Self.clockSkew), excluding: excluding)
        var filter = [("To", to)]
        if case .number(let from) = configuration.sender { filter.append(("From", from)) }
        // First by DateSent, as Twilio's filters allow: the UTC day of the attempt, and the next one when the
        // message may have been sent after midnight.
        var day = since
        let lastDay = Date().addingTimeInterval(60)
        var days = 0
        while day <= lastDay, days < 3 {
            let query = filter + [("DateSent", day.formatted(.iso8601.year().month().day())), ("PageSize", "100")]
            if let receipt = try await search(query, wanted) {
                return .found(receipt)
            }
            days += 1
            guard let next = Calendar.utc.date(byAdding: .day, value: 1, to: Calendar.utc.startOfDay(for: day)) else {
                break
            }
            day = next
        }
        // A message Twilio has taken but not sent yet has no date_sent, so no DateSent filter finds it: look through
        // the number's newest messages (the list is newest first) back to the attempt.
        if let receipt = try await search(filter + [("PageSize", "100")], wanted, newestFirst: true) {
            return .found(receipt)
        }
        return .notFound
    }

    /// What a look-up is looking for.
    struct Wanted {
        var body: String
        var earliest: Date
        var excluding: Set<String>
    }

    /// Reads the pages of one list query for the wanted message. With `newestFirst`, it stops at the first page
    /// that reaches back before the earliest time wanted.
    private func search(
        _ query: [(String, String)],
        _ wanted: Wanted,
        newestFirst: Bool = false
    ) async throws(ProviderFailure) -> ProviderReceipt? {
        var url: String? = messagesURL + "?" + FormEncoding.encode(query)
        var pages = 0
        while let next = url, pages < Self.maximumPages {
            pages += 1
            var request = HTTPClientRequest(url: next)
            request.method = .GET
            request.headers.add(name: "Authorization", value: authorization)
            request.headers.add(name: "Accept", value: "application/json")
            let (status, headers, data) = try await perform(request, sent: false)
            guard (200..<300).contains(status) else {
                var failure = Self.failure(status: status, headers: headers, body: data)
                // A failed look-up is never final: the caller asks again later.
                if failure.kind == .permanent || failure.kind == .accountRefused {
                    failure.kind = .retryable(retryAfter: nil)
                }
                throw failure
            }
            let page: MessagePage
            do {
                page = try JSONDecoder().decode(MessagePage.self, from: data)
            } catch {
                throw ProviderFailure(
                    kind: .retryable(retryAfter: nil), httpStatus: status,
                    message: "Twilio's message list could not be read")
            }
            let (receipt, reachedBack) = Self.match(in: page.messages, wanted, sender: configuration.sender)
            if let receipt { return receipt }
            if newestFirst, reachedBack { return nil }
            url = page.nextPageURI.flatMap { resolve($0) }
        }
        return nil
    }

    /// The first of `messages` that is the wanted one, and whether any of them was created before the earliest time
    /// wanted. The list query already filters on `To` (and `From` for a sender number); the sender is checked again
    /// here, as is the direction, so that nothing but a message we sent can match.
    static func match(in messages: [MessageResource], _ wanted: Wanted, sender: Sender) -> (ProviderReceipt?, Bool) {
        var reachedBack = false
        for resource in messages {
            let created = resource.dateCreated.flatMap(Self.parseRFC2822)
            if let created, created < wanted.earliest {
                reachedBack = true
                continue
            }
            guard let receipt = resource.receipt, !wanted.excluding.contains(receipt.sid),
                resource.direction.map({ $0.hasPrefix("outbound") }) ?? true
            else { continue }
            switch sender {
            case .number(let from):
                guard resource.from == nil || resource.from == from else { continue }
            case .messagingService(let sid):
                guard resource.messagingServiceSID == nil || resource.messagingServiceSID == sid else { continue }
            }
            guard let body = resource.body, SmartEncodingMatch.matches(sent: wanted.body, listed: body) else {
                continue
            }
            return (receipt, reachedBack)
        }
        return (nil, reachedBack)
    }

    /// How far Twilio's clock may be behind ours when matching creation times.
    static let clockSkew: TimeInterval = 120

    /// `next_page_uri` is a path on the API's host.
    private func resolve(_ pathAndQuery: String) -> String? {
        guard pathAndQuery.hasPrefix("/") else { return nil }
        return base + pathAndQuery
    }

    // MARK: HTTP

    /// Runs a request and reads its whole answer, turning transport errors into failures. `sent` says whether the
    /// request changes something at Twilio, so that a broken exchange leaves its effect unknown.
    private func perform(
        _ request: HTTPClientRequest,
        sent: Bool
    ) async throws(ProviderFailure) -> (Int, HTTPHeaders, Data) {
        do {
            let response = try await client.execute(request, timeout: TimeAmount(configuration.timeout))
            let body = try await response.body.collect(upTo: Self.maximumResponseBytes)
            return (Int(response.status.code), response.headers, Data(body.readableBytesView))
        } catch let error as HTTPClientError where Self.neverReachedTwilio(error) {
            throw ProviderFailure(kind: .retryable(retryAfter: nil), message: "Twilio could not be reached: \(error)")
        } catch let error as NIOConnectionError {
            throw ProviderFailure(kind: .retryable(retryAfter: nil), message: "Twilio could not be reached: \(error)")
        } catch {
            throw ProviderFailure(
                kind: sent ? .unknownFate : .retryable(retryAfter: nil),
                message: "the request to Twilio did not complete: \(error)"
            )
        }
    }

    /// Errors that happen before a request is written.
    private static func neverReachedTwilio(_ error: HTTPClientError) -> Bool {
        [.connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout, .invalidURL].contains(error)
    }

    /// A non-2xx answer, sorted: 429 and Twilio's 20429 wait, 5xx is retried, 401 and 403 (and Twilio's 20003
    /// "authenticate" and 20005 "account not active") refuse the account rather than the message, the rest is
    /// final. To a send, a 500, 502 or 504 is an unknown fate instead: a proxy or gateway can answer so after Twilio
    /// created the message, and sending it again could deliver it twice, so it is looked up first (503 and 429 mean
    /// not taken).
    static func failure(status: Int, headers: HTTPHeaders, body: Data, toASend: Bool = false) -> ProviderFailure {
        let twilio = try? JSONDecoder().decode(TwilioErrorBody.self, from: body)
        let message = String((twilio?.message ?? "Twilio answered HTTP \(status)").prefix(512))
        let retryAfter = headers.first(name: "Retry-After").flatMap(Self.parseRetryAfter)
        let kind: ProviderFailure.Kind
        if toASend, [500, 502, 504].contains(status), twilio?.code != 20429 {
            kind = .unknownFate
        } else if status == 429 || twilio?.code == 20429 || status >= 500 {
            kind = .retryable(retryAfter: retryAfter)
        } else if status == 401 || status == 403 || twilio?.code == 20003 || twilio?.code == 20005 {
            kind = .accountRefused
        } else {
            kind = .permanent
        }
        return ProviderFailure(kind: kind, code: twilio?.code, httpStatus: status, message: message)
    }

    /// `Retry-After` in seconds (the form Twilio uses), or as an HTTP date.
    static func parseRetryAfter(_ value: String) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return .seconds(min(seconds, 3600)) }
        guard let date = parseHTTPDate(trimmed) else { return nil }
        let seconds = date.timeIntervalSinceNow
        return .milliseconds(Int64((min(max(seconds, 0), 3600) * 1000).rounded()))
    }

    // MARK: Twilio's JSON

    struct TwilioErrorBody: Decodable {
        var code: Int?
        var message: String?
    }

    struct MessageResource: Decodable {
        var sid: String?
        var status: String?
        var body: String?
        var price: String?
        var priceUnit: String?
        var dateCreated: String?
        var from: String?
        var messagingServiceSID: String?
        /// `outbound-api` for a message sent through the API; `inbound` for one a member sent.
        var direction: String?

        enum CodingKeys: String, CodingKey {
            case sid, status, body, price, from, direction
            case priceUnit = "price_unit"
            case dateCreated = "date_created"
            case messagingServiceSID = "messaging_service_sid"
        }

        var receipt: ProviderReceipt? {
            guard let sid, InputRules.isMessageSID(sid) else { return nil }
            // ISO 4217: three ASCII letters, as the column's check wants ("ß".uppercased() would be "SS").
            let unit = priceUnit.flatMap { unit in
                unit.utf8.count == 3
                    && unit.utf8.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
                    ? unit.uppercased() : nil
            }
            return ProviderReceipt(
                sid: sid,
                status: status.map { String($0.prefix(32)) },
                price: price.flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) },
                priceUnit: unit
            )
        }
    }

    struct MessagePage: Decodable {
        var messages: [MessageResource]
        var nextPageURI: String?

        enum CodingKeys: String, CodingKey {
            case messages
            case nextPageURI = "next_page_uri"
        }
    }

    // MARK: Dates

    /// Twilio's dates: `Mon, 16 Aug 2010 03:45:01 +0000`.
    static func parseRFC2822(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.date(from: text)
    }

    /// An HTTP date: `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func parseHTTPDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text)
    }
}

extension Calendar {
    fileprivate static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}

/// `application/x-www-form-urlencoded`, as Twilio reads it: unreserved characters kept, everything else
/// percent-encoded from UTF-8 (a space too, as `%20`).
enum FormEncoding {
    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out +=
                    "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
