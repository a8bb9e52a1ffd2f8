#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Where a connection redirected by iptables (REDIRECT) was originally going: Linux keeps it for
/// the accepted socket, read with `getsockopt(SOL_IP, SO_ORIGINAL_DST)` (IPv6:
/// `SOL_IPV6, IP6T_SO_ORIGINAL_DST`, both option 80). With TPROXY the local address is the
/// original destination itself.
enum OriginalDestination {
    static let soOriginalDestination: Int32 = 80

    /// The original destination of `channel`, on its event loop; nil when the socket has none
    /// (it was not redirected) or the channel cannot say.
    static func of(_ channel: any Channel) -> EventLoopFuture<SocketAddress?> {
        guard let provider = channel as? (any SocketOptionProvider) else { return channel.eventLoop.makeSucceededFuture(nil) }
        if case .v6? = channel.localAddress {
            let future: EventLoopFuture<sockaddr_in6> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(Int32(IPPROTO_IPV6)), name: SocketOptionName(soOriginalDestination))
            return future.map { Optional(SocketAddress($0, host: "")) }.recover { _ in nil }
        }
        let future: EventLoopFuture<sockaddr_in> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(Int32(IPPROTO_IP)), name: SocketOptionName(soOriginalDestination))
        return future.map { Optional(SocketAddress($0, host: "")) }.recover { _ in nil }
    }
}
