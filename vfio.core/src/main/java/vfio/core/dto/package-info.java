/**
 * Plain snapshots of the core's state, as the {@code vfio} shell shows it: devices, backends,
 * regions and IRQs. Public fields only, in the style of {@link org.osgi.dto.DTO}; a snapshot is a
 * copy taken at one moment, never updated, and owned by whoever asked for it.
 */
@Version("1.0.0")
@Export
package vfio.core.dto;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
