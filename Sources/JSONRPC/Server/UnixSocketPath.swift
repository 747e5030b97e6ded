#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

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
    ///
    /// Returns a lock on the socket's folder, to hold until the socket is bound: two servers starting at once on a
    /// stale socket would otherwise both find it stale, and the second would remove the first one's live socket.
    public func prepareForBinding() throws(SetupError) -> BindingLock {
        try createParentFolders()
        let lock = try BindingLock(folder: folder, path: path)
        do throws(SetupError) {
            try removeIfStale()
        } catch {
            lock.release()
            throw error
        }
        return lock
    }

    private func removeIfStale() throws(SetupError) {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return }
            throw SetupError(path: path, reason: "cannot inspect it: \(Self.errnoText())")
        }
        guard (status.st_mode & S_IFMT) == S_IFSOCK else {
            throw SetupError(path: path, reason: "a file that is not a socket is in the way")
        }
        switch probe() {
        case .answering:
            throw SetupError(path: path, reason: "another server is listening on it; stop it or choose another path")
        case .unknown(let reason):
            throw SetupError(path: path, reason: "cannot tell whether a server listens on it (\(reason)); not removed")
        case .stale:
            break
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw SetupError(path: path, reason: "cannot remove the stale socket: \(Self.errnoText())")
        }
    }

    /// The folder holding the socket.
    var folder: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// An exclusive lock on the socket's folder, held while a server checks, clears and binds the path.
    public final class BindingLock: Sendable {
        /// The folder's descriptor; -1 once released.
        private let descriptor: Mutex<CInt>

        init(folder: String, path: String) throws(SetupError) {
            let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw SetupError(path: path, reason: "cannot open its folder: \(UnixSocketPath.errnoText())")
            }
            guard flock(descriptor, LOCK_EX) == 0 else {
                let reason = UnixSocketPath.errnoText()
                close(descriptor)
                throw SetupError(path: path, reason: "cannot lock its folder: \(reason)")
            }
            self.descriptor = Mutex(descriptor)
        }

        /// Lets another server check the path (closing the descriptor releases the lock); once.
        public func release() {
            descriptor.withLock { descriptor in
                if descriptor >= 0 { close(descriptor) }
                descriptor = -1
            }
        }

        deinit { release() }
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

    enum Probe: Equatable {
        /// A server accepts connections (or its backlog is full, which only a live listener has).
        case answering
        /// No one listens: the file was left by a server that died.
        case stale
        /// Something else (no permission to connect, say): the file may belong to a live server.
        case unknown(String)
    }

    /// Whether a server listens at the path; a connection attempt that does not wait.
    func probe() -> Probe {
        #if canImport(Darwin)
            let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #else
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        #endif
        guard fd >= 0 else { return .unknown("socket: \(Self.errnoText())") }
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
        if result == 0 { return .answering }
        switch errno {
        case EAGAIN, EINPROGRESS: return .answering
        case ECONNREFUSED, ENOENT: return .stale
        default: return .unknown(Self.errnoText())
        }
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
