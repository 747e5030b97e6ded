#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Checks and prepares the file system path of a listening Unix socket.
public struct UnixSocketPath: Sendable {
    public let path: String

    /// The longest path `sockaddr_un` holds, without its terminating zero.
    public static let maximumLength: Int = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// Why a socket cannot be set up at a path.
    public struct SetupError: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cannot listen on \(path): \(reason)" }
    }

    public init(_ path: String) throws(SetupError) {
        guard !path.isEmpty else { throw SetupError(path: path, reason: "the path is empty") }
        guard path.utf8.count <= Self.maximumLength else {
            throw SetupError(
                path: path,
                reason: "the path is \(path.utf8.count) bytes long; Unix sockets allow at most \(Self.maximumLength)"
            )
        }
        guard !path.utf8.contains(0) else { throw SetupError(path: path, reason: "the path contains a NUL byte") }
        self.path = path
    }

    /// Makes the path ready for `bind`: creates missing parent folders with mode 0700, removes a stale socket
    /// left by a process that died, and refuses a live one or a file that is not a socket.
    public func prepareForBinding() throws(SetupError) {
        try createParentFolders()
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return }
            throw SetupError(path: path, reason: "cannot inspect it: \(Self.errnoText())")
        }
        guard (status.st_mode & S_IFMT) == S_IFSOCK else {
            throw SetupError(path: path, reason: "a file that is not a socket is in the way")
        }
        if isAnswering() {
            throw SetupError(path: path, reason: "another server is listening on it; stop it or choose another path")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw SetupError(path: path, reason: "cannot remove the stale socket: \(Self.errnoText())")
        }
    }

    /// Sets the socket file's permission bits.
    public func setMode(_ mode: UInt32) throws(SetupError) {
        guard chmod(path, mode_t(mode)) == 0 else {
            throw SetupError(path: path, reason: "cannot set its mode: \(Self.errnoText())")
        }
    }

    /// The device and inode of the file now at the path, to tell later whether it is still ours.
    public func identity() -> (device: UInt64, inode: UInt64)? {
        var status = stat()
        guard lstat(path, &status) == 0 else { return nil }
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    /// Removes the socket file if it is still the one identified by `identity` (another server may have
    /// replaced it since).
    public func remove(ifStill identity: (device: UInt64, inode: UInt64)?) {
        guard let identity, let current = self.identity(), current == identity else { return }
        unlink(path)
    }

    /// Whether a server accepts connections at the path.
    func isAnswering() -> Bool {
        #if canImport(Darwin)
            let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #else
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
        }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    private func createParentFolders() throws(SetupError) {
        var components = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        guard !components.isEmpty else { return }
        var current = path.hasPrefix("/") ? "" : "."
        if path.hasPrefix("/") { components = components.dropFirst() }
        for component in components where !component.isEmpty {
            current += "/" + component
            if mkdir(current, 0o700) == 0 {
                // The umask may have taken bits away (or another thread changed it); a folder we create is 0700.
                chmod(current, 0o700)
            } else if errno != EEXIST {
                throw SetupError(path: path, reason: "cannot create the folder \(current): \(Self.errnoText())")
            }
        }
    }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
