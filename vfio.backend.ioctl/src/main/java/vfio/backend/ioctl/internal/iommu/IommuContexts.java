package vfio.backend.ioctl.internal.iommu;

import static vfio.backend.ioctl.internal.abi.VfioAbi.*;

import com.sun.jna.Memory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import vfio.api.backend.DmaMemory;
import vfio.api.device.BackendException;
import vfio.backend.ioctl.internal.host.DevicePlan;
import vfio.backend.ioctl.internal.kernel.KernelErrors;
import vfio.backend.ioctl.internal.kernel.KernelFile;
import vfio.backend.ioctl.internal.kernel.KernelFiles;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;

/**
 * The groups, containers and iommufd address space a backend instance has open, shared between its
 * devices as the kernel requires or allows:
 * <ul>
 * <li>Legacy API: a group node can be opened only once, so every device of a group shares the
 * group's file and container. A new group first tries to join an existing container of the same
 * IOMMU type ({@code VFIO_GROUP_SET_CONTAINER}, which type1 accepts when the IOMMU domains are
 * compatible), and gets a container of its own otherwise.</li>
 * <li>iommufd: one {@code /dev/iommu} file and one IO address space (IOAS) for every device of the
 * backend instance, as QEMU uses one per VM.</li>
 * </ul>
 * Devices that share an address space share its IOVAs: two devices cannot map different memory at
 * the same IOVA. The last device to leave closes the shared files.
 *
 * <p>Thread-safe: attaching and releasing are serialised on one lock; DMA map/unmap run unlocked
 * (the kernel serialises them).
 */
public final class IommuContexts {
    private final KernelFiles files;
    private final Object lock = new Object();
    private final Map<Integer, Group> groups = new HashMap<>();
    private final List<Container> containers = new ArrayList<>();
    private Ioas ioas;

    /** @param files how to open kernel files */
    public IommuContexts(KernelFiles files) {
        this.files = files;
    }

    /**
     * Opens the device the plan describes and attaches it to an address space.
     *
     * @return the attachment, owned by the caller
     * @throws BackendException if the kernel refused a step (named in the exception)
     */
    public Attachment attach(DevicePlan plan) {
        return plan.api() == DevicePlan.Api.IOMMUFD ? attachIommufd(plan) : attachGroup(plan);
    }

    /** @return how many groups and containers are open (for tests and diagnostics) */
    public String census() {
        synchronized (lock) {
            return groups.size() + " group(s), " + containers.size() + " container(s), "
                    + (ioas == null ? "no" : "one") + " iommufd IOAS";
        }
    }

    // ------------------------------------------------------------------ legacy container/group API

    private Attachment attachGroup(DevicePlan plan) {
        Group group;
        synchronized (lock) {
            group = groups.get(plan.group());
            if (group == null) {
                group = openGroup(plan);
                groups.put(plan.group(), group);
            }
            group.devices++;
        }
        KernelFile device;
        try {
            byte[] name = plan.address().bdf().getBytes(StandardCharsets.US_ASCII);
            Memory arg = new Memory(name.length + 1);
            arg.write(0, name, 0, name.length);
            arg.setByte(name.length, (byte) 0);
            int fd = group.file.ioctl("VFIO_GROUP_GET_DEVICE_FD", VFIO_GROUP_GET_DEVICE_FD, arg);
            device = group.file.adopt(fd, "VFIO device " + plan.address().bdf());
        } catch (ErrnoException e) {
            releaseGroup(group);
            throw KernelErrors.backend("VFIO_GROUP_GET_DEVICE_FD", e, "cannot get " + plan.address().bdf() + " from "
                    + plan.groupNode() + (e.errno() == Errno.EBUSY ? ": another process or backend has it open" : ""));
        }
        Group g = group;
        return new Attachment(device, group.container, plan.describe(), once(() -> releaseGroup(g)));
    }

    /** Opens a group and puts it into a container. Called with the lock held. */
    private Group openGroup(DevicePlan plan) {
        KernelFile file;
        try {
            file = files.open(plan.groupNode());
        } catch (ErrnoException e) {
            throw KernelErrors.backend("open", e, "cannot open " + plan.groupNode()
                    + (e.errno() == Errno.EBUSY ? ": another process has this IOMMU group open" : ""));
        }
        try {
            Memory status = new Memory(GROUP_STATUS_SIZE);
            status.clear();
            status.setInt(0, GROUP_STATUS_SIZE);
            file.ioctl("VFIO_GROUP_GET_STATUS", VFIO_GROUP_GET_STATUS, status);
            if ((status.getInt(GROUP_STATUS_FLAGS) & VFIO_GROUP_FLAGS_VIABLE) == 0) {
                throw new BackendException("VFIO_GROUP_GET_STATUS", 0, null, "IOMMU group " + plan.group()
                        + " is not viable: a device of the group is bound to a driver other than vfio-pci; bind every"
                        + " device of /sys/kernel/iommu_groups/" + plan.group() + "/devices to vfio-pci");
            }
            int type = plan.noIommu() ? VFIO_NOIOMMU_IOMMU : VFIO_TYPE1v2_IOMMU;
            for (Container c : containers) {
                if (c.type == type && join(file, c)) {
                    c.groups++;
                    return new Group(file, c);
                }
            }
            Container c = newContainer(plan, file, type);
            containers.add(c);
            c.groups++;
            return new Group(file, c);
        } catch (ErrnoException e) {
            file.close();
            throw KernelErrors.backend("VFIO_GROUP_GET_STATUS", e, "cannot query " + plan.groupNode());
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static boolean join(KernelFile group, Container c) {
        Memory fd = new Memory(4);
        fd.setInt(0, c.file.descriptor());
        try {
            group.ioctl("VFIO_GROUP_SET_CONTAINER", VFIO_GROUP_SET_CONTAINER, fd);
            return true;
        } catch (ErrnoException e) {
            // EINVAL/EPERM: the IOMMU cannot put this group in that container's domain; use a new one.
            return false;
        }
    }

    private Container newContainer(DevicePlan plan, KernelFile group, int type) {
        KernelFile file;
        try {
            file = files.open(plan.container());
        } catch (ErrnoException e) {
            throw KernelErrors.backend("open", e, "cannot open the VFIO container " + plan.container());
        }
        String step = "VFIO_GET_API_VERSION";
        try {
            int version = file.ioctl(step, VFIO_GET_API_VERSION, 0);
            if (version != VFIO_API_VERSION) {
                throw new BackendException(step, 0, null, "the kernel speaks VFIO API version " + version
                        + ", this backend knows version " + VFIO_API_VERSION);
            }
            step = "VFIO_CHECK_EXTENSION";
            if (file.ioctl(step, VFIO_CHECK_EXTENSION, type) <= 0) {
                throw new BackendException(step, 0, null, type == VFIO_NOIOMMU_IOMMU
                        ? "the kernel offers no no-IOMMU container (load vfio with enable_unsafe_noiommu_mode=1)"
                        : "the kernel offers no type1v2 IOMMU (load vfio_iommu_type1)");
            }
            step = "VFIO_GROUP_SET_CONTAINER";
            Memory fd = new Memory(4);
            fd.setInt(0, file.descriptor());
            group.ioctl(step, VFIO_GROUP_SET_CONTAINER, fd);
            step = "VFIO_SET_IOMMU";
            file.ioctl(step, VFIO_SET_IOMMU, type);
            return new Container(file, type, plan.container().toString());
        } catch (ErrnoException e) {
            file.close();
            throw KernelErrors.backend(step, e, "cannot set up a container for IOMMU group " + plan.group());
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private void releaseGroup(Group group) {
        synchronized (lock) {
            if (--group.devices > 0) {
                return;
            }
            groups.values().remove(group);
            // Closing the group file detaches it from the container (no UNSET_CONTAINER needed).
            group.file.close();
            if (--group.container.groups == 0) {
                containers.remove(group.container);
                group.container.file.close();
            }
        }
    }

    private static final class Group {
        final KernelFile file;
        final Container container;
        int devices;

        Group(KernelFile file, Container container) {
            this.file = file;
            this.container = container;
        }
    }

    /** A legacy container: a type1v2 IOMMU domain (or no IOMMU at all). */
    private static final class Container implements DmaSpace {
        final KernelFile file;
        final int type;
        final String path;
        int groups;
        private final NoIommuDma noIommu;

        Container(KernelFile file, int type, String path) {
            this.file = file;
            this.type = type;
            this.path = path;
            this.noIommu = type == VFIO_NOIOMMU_IOMMU ? new NoIommuDma() : null;
        }

        @Override
        public long map(DmaMemory memory, long iova, boolean read, boolean write) {
            if (noIommu != null) {
                return noIommu.map(memory);
            }
            Memory arg = new Memory(DMA_MAP_SIZE);
            arg.clear();
            arg.setInt(0, DMA_MAP_SIZE);
            arg.setInt(DMA_MAP_FLAGS, (read ? VFIO_DMA_MAP_FLAG_READ : 0) | (write ? VFIO_DMA_MAP_FLAG_WRITE : 0));
            arg.setLong(DMA_MAP_VADDR, memory.address());
            arg.setLong(DMA_MAP_IOVA, iova);
            arg.setLong(DMA_MAP_LENGTH, memory.size());
            try {
                file.ioctl("VFIO_IOMMU_MAP_DMA", VFIO_IOMMU_MAP_DMA, arg);
                return iova;
            } catch (ErrnoException e) {
                throw KernelErrors.backend("VFIO_IOMMU_MAP_DMA", e, mapAdvice(e, iova, memory.size()));
            }
        }

        @Override
        public void unmap(long iova, long size) {
            if (noIommu != null) {
                noIommu.unmap(iova);
                return;
            }
            Memory arg = new Memory(DMA_UNMAP_SIZE);
            arg.clear();
            arg.setInt(0, DMA_UNMAP_SIZE);
            arg.setLong(DMA_UNMAP_IOVA, iova);
            arg.setLong(DMA_UNMAP_LENGTH, size);
            try {
                file.ioctl("VFIO_IOMMU_UNMAP_DMA", VFIO_IOMMU_UNMAP_DMA, arg);
            } catch (ErrnoException e) {
                throw KernelErrors.backend("VFIO_IOMMU_UNMAP_DMA", e, "cannot unmap IOVA 0x" + Long.toHexString(iova)
                        + "+0x" + Long.toHexString(size));
            }
            long unmapped = arg.getLong(DMA_UNMAP_LENGTH);
            if (unmapped != size) {
                throw new BackendException("VFIO_IOMMU_UNMAP_DMA", 0, null, "unmapped 0x" + Long.toHexString(unmapped)
                        + " bytes at IOVA 0x" + Long.toHexString(iova) + " instead of 0x" + Long.toHexString(size)
                        + ": the range was not mapped as one mapping");
            }
        }

        @Override
        public boolean choosesIova() {
            return noIommu != null;
        }

        @Override
        public String describe() {
            return (noIommu != null ? "no-IOMMU container " : "type1v2 container ") + path;
        }
    }

    // ------------------------------------------------------------------ iommufd + device files

    private Attachment attachIommufd(DevicePlan plan) {
        Ioas space;
        synchronized (lock) {
            if (ioas == null) {
                ioas = openIoas(plan);
            }
            space = ioas;
            space.devices++;
        }
        Runnable release = once(() -> releaseIoas(space));
        KernelFile device;
        try {
            device = files.open(plan.deviceFile());
        } catch (ErrnoException e) {
            release.run();
            throw KernelErrors.backend("open", e, "cannot open the VFIO device file " + plan.deviceFile()
                    + (e.errno() == Errno.EBUSY ? ": another process or backend has the device open" : ""));
        }
        String step = "VFIO_DEVICE_BIND_IOMMUFD";
        try {
            Memory bind = new Memory(BIND_IOMMUFD_SIZE);
            bind.clear();
            bind.setInt(0, BIND_IOMMUFD_SIZE);
            bind.setInt(BIND_IOMMUFD_FD, space.file.descriptor());
            device.ioctl(step, VFIO_DEVICE_BIND_IOMMUFD, bind);
            step = "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
            Memory attach = new Memory(ATTACH_PT_SIZE);
            attach.clear();
            attach.setInt(0, ATTACH_PT_SIZE);
            attach.setInt(ATTACH_PT_ID, space.id);
            device.ioctl(step, VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach);
        } catch (ErrnoException e) {
            device.close();
            release.run();
            throw KernelErrors.backend(step, e, "cannot attach " + plan.deviceFile() + " to IOAS " + space.id
                    + " of " + plan.iommuDev() + (step.equals("VFIO_DEVICE_BIND_IOMMUFD")
                            ? " (a device file can be bound once: another process or backend instance has the device)"
                            : ""));
        }
        return new Attachment(device, space, plan.describe(), release);
    }

    private Ioas openIoas(DevicePlan plan) {
        KernelFile file;
        try {
            file = files.open(plan.iommuDev());
        } catch (ErrnoException e) {
            throw KernelErrors.backend("open", e, "cannot open " + plan.iommuDev());
        }
        Memory alloc = new Memory(IOAS_ALLOC_SIZE);
        alloc.clear();
        alloc.setInt(0, IOAS_ALLOC_SIZE);
        try {
            file.ioctl("IOMMU_IOAS_ALLOC", IOMMU_IOAS_ALLOC, alloc);
        } catch (ErrnoException e) {
            file.close();
            throw KernelErrors.backend("IOMMU_IOAS_ALLOC", e, "cannot allocate an IO address space on " + plan.iommuDev());
        }
        return new Ioas(file, alloc.getInt(IOAS_ALLOC_OUT_ID), plan.iommuDev().toString());
    }

    private void releaseIoas(Ioas space) {
        synchronized (lock) {
            if (--space.devices == 0) {
                // Closing /dev/iommu destroys the IOAS and every mapping in it.
                space.file.close();
                if (ioas == space) {
                    ioas = null;
                }
            }
        }
    }

    /** An iommufd IO address space. */
    private static final class Ioas implements DmaSpace {
        final KernelFile file;
        final int id;
        final String path;
        int devices;

        Ioas(KernelFile file, int id, String path) {
            this.file = file;
            this.id = id;
            this.path = path;
        }

        @Override
        public long map(DmaMemory memory, long iova, boolean read, boolean write) {
            Memory arg = new Memory(IOAS_MAP_SIZE);
            arg.clear();
            arg.setInt(0, IOAS_MAP_SIZE);
            arg.setInt(IOAS_MAP_FLAGS, IOMMU_IOAS_MAP_FIXED_IOVA | (read ? IOMMU_IOAS_MAP_READABLE : 0)
                    | (write ? IOMMU_IOAS_MAP_WRITEABLE : 0));
            arg.setInt(IOAS_MAP_IOAS_ID, id);
            arg.setLong(IOAS_MAP_USER_VA, memory.address());
            arg.setLong(IOAS_MAP_LENGTH, memory.size());
            arg.setLong(IOAS_MAP_IOVA, iova);
            try {
                file.ioctl("IOMMU_IOAS_MAP", IOMMU_IOAS_MAP, arg);
            } catch (ErrnoException e) {
                throw KernelErrors.backend("IOMMU_IOAS_MAP", e, mapAdvice(e, iova, memory.size()));
            }
            return arg.getLong(IOAS_MAP_IOVA);
        }

        @Override
        public void unmap(long iova, long size) {
            Memory arg = new Memory(IOAS_UNMAP_SIZE);
            arg.clear();
            arg.setInt(0, IOAS_UNMAP_SIZE);
            arg.setInt(IOAS_UNMAP_IOAS_ID, id);
            arg.setLong(IOAS_UNMAP_IOVA, iova);
            arg.setLong(IOAS_UNMAP_LENGTH, size);
            try {
                file.ioctl("IOMMU_IOAS_UNMAP", IOMMU_IOAS_UNMAP, arg);
            } catch (ErrnoException e) {
                throw KernelErrors.backend("IOMMU_IOAS_UNMAP", e, "cannot unmap IOVA 0x" + Long.toHexString(iova)
                        + "+0x" + Long.toHexString(size) + " from IOAS " + id);
            }
        }

        @Override
        public boolean choosesIova() {
            return false;
        }

        @Override
        public String describe() {
            return "iommufd IOAS " + id + " of " + path;
        }
    }

    private static String mapAdvice(ErrnoException e, long iova, long size) {
        String range = "IOVA 0x" + Long.toHexString(iova) + "+0x" + Long.toHexString(size);
        return switch (e.errno()) {
            case Errno.EEXIST -> range + " overlaps a mapping already in this address space (devices of one container"
                    + " or IOAS share IOVAs)";
            case Errno.ENOMEM -> "cannot pin " + size + " bytes at " + range
                    + ": raise the locked-memory limit (ulimit -l) or map less";
            default -> "cannot map " + range;
        };
    }

    private static Runnable once(Runnable r) {
        return new Runnable() {
            private boolean done;

            @Override
            public synchronized void run() {
                if (!done) {
                    done = true;
                    r.run();
                }
            }
        };
    }
}
