/**
 * The platform's one native seam for Linux (and the POSIX calls macOS shares), through JNA direct
 * mapping: owned file descriptors, mmap, eventfd, epoll, memfd, AF_UNIX sockets with SCM_RIGHTS,
 * ioctl. Every other bundle reaches the kernel only through these types, so they are what a test
 * fakes and what a reviewer audits.
 *
 * <p>Failures are {@link vfio.posix.ErrnoException}s carrying the call, the errno and its name.
 * Struct layouts here are those of Linux on 64-bit (x86_64 and aarch64).
 */
@Version("1.0.0")
@Export
package vfio.posix;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
