/**
 * A backend whose devices are real memory: every region is a memfd, mapped with {@link
 * vfio.posix.MappedMemory} for {@code regionMap} and read/written with pread/pwrite on the slow
 * path, so both paths see the same bytes; interrupts are delivered by writing the core's eventfds
 * (or calling {@code signal()}), and DMA memory is mapped a second time through its memfd, as a
 * vfio-user server would. Counters record every map, unmap, open and close, and whether the core
 * had revoked each area before unmapping it.
 *
 * <p>Depends only on vfio.api and vfio.posix, so it can be packaged as a bundle of its own for
 * integration tests (register a {@link vfio.core.testing.MemoryBackendFactory} with the service
 * property {@code vfio.backend.id}).
 */
package vfio.core.testing;
