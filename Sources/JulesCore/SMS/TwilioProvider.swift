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

    public func find(to: String, body: String, since: Date, excluding: Set<String>) async throws(ProviderFailure)
        -> ProviderLookup
    {
        let earliest = since.addingTimeInterval(-Self.clockSkew)
        // First by DateSent, as Twilio's filters allow: the UTC day of the attempt, and the next one when the
        // message may have been sent after midnight.
        var day = since
        let lastDay = Date().addingTimeInterval(60)
        var days = 0
        while day <= lastDay, days < 3 {
            let query = [("To", to), ("DateSent", day.formatted(.iso8601.year().month().day())), ("PageSize", "100")]
            if let receipt = try await search(query, body: body, earliest: earliest, excluding: excluding) {
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
        let recent = [("To", to), ("PageSize", "100")]
        if let receipt = try await search(
            recent, body: body, earliest: earliest, excluding: excluding, newestFirst: true)
        {
            return .found(receipt)
        }
        return .notFound
    }

    /// Reads the pages of one list query for a message with `body` created at or after `earliest`. With
    /// `newestFirst`, it stops at the first page that reaches back before `earliest`.
    private func search(
        _ query: [(String, String)],
        body: String,
        earliest: Date,
        excluding: Set<String>,
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
                if failure.kind == .permanent { failure.kind = .retryable(retryAfter: nil) }
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
            var reachedBack = false
            for resource in page.messages {
                let created = resource.dateCreated.flatMap(Self.parseRFC2822)
                if let created, created < earliest {
                    reachedBack = true
                    continue
                }
                guard let receipt = resource.receipt, !excluding.contains(receipt.sid), resource.body == body else {
                    continue
                }
                return receipt
            }
            if newestFirst, reachedBack { return nil }
            url = page.nextPageURI.flatMap { resolve($0) }
        }
        return nil
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

    /// A non-2xx answer, sorted: 429 and Twilio's 20429 wait, 5xx is retried, the rest is final. To a send, a 500,
    /// 502 or 504 is an unknown fate instead: a proxy or gateway can answer so after Twilio created the message,
    /// and sending it again could deliver it twice, so it is looked up first (503 and 429 mean not taken).
    static func failure(status: Int, headers: HTTPHeaders, body: Data, toASend: Bool = false) -> ProviderFailure {
        let twilio = try? JSONDecoder().decode(TwilioErrorBody.self, from: body)
        let message = String((twilio?.message ?? "Twilio answered HTTP \(status)").prefix(512))
        let retryAfter = headers.first(name: "Retry-After").flatMap(Self.parseRetryAfter)
        let kind: ProviderFailure.Kind
        if toASend, [500, 502, 504].contains(status), twilio?.code != 20429 {
            kind = .unknownFate
        } else if status == 429 || twilio?.code == 20429 || status >= 500 {
            kind = .retryable(retryAfter: retryAfter)
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

        enum CodingKeys: String, CodingKey {
            case sid, status, body, price
            case priceUnit = "price_unit"
            case dateCreated = "date_created"
        }

        var receipt: ProviderReceipt? {
            guard let sid, InputRules.isMessageSID(sid) else { return nil }
            let unit = priceUnit.flatMap { $0.count == 3 && $0.allSatisfy(\.isLetter) ? $0.uppercased() : nil }
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
