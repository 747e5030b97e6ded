/// An error from JulesSecurity.
///
/// Descriptions name the problem and, where useful, a position (such as the index of a bad key in a list); they
/// never contain key material, plaintext or token text, so they are safe to log and to return to callers.
public struct SecurityError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is; switch on it to decide how to respond.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidKey
            case invalidToken
            case invalidSignature
            case invalidPadding
            case expired
            case futureTimestamp
            case tooLarge
            case cryptoFailure
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A key was malformed: bad encoding, wrong length, or an empty key list.
        public static let invalidKey = Code(.invalidKey)
        /// A token was structurally invalid: bad base64url, too short, wrong version, or a ciphertext whose length
        /// is not a multiple of the AES block size.
        public static let invalidToken = Code(.invalidToken)
        /// A token's HMAC did not verify with any key: it was tampered with or made with another key.
        public static let invalidSignature = Code(.invalidSignature)
        /// A token authenticated but its plaintext padding was wrong (a token signed with the right key but
        /// encrypted incorrectly).
        public static let invalidPadding = Code(.invalidPadding)
        /// A token is older than the time-to-live the caller asked for.
        public static let expired = Code(.expired)
        /// A token's timestamp is further in the future than the allowed clock skew.
        public static let futureTimestamp = Code(.futureTimestamp)
        /// An input exceeded a size limit.
        public static let tooLarge = Code(.tooLarge)
        /// libcrypto reported a failure that is not the caller's fault.
        public static let cryptoFailure = Code(.cryptoFailure)

        public var description: String {
            base.rawValue
        }
    }

    /// What kind of failure this is.
    public let code: Code
    /// A human-readable explanation, free of secrets.
    public let message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: What kind of failure this is.
    ///   - message: An explanation; callers must not put key material or plaintext in it.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String {
        "SecurityError(\(code)): \(message)"
    }
}
