/**
 * The Gogo commands of scope {@code vfio}: {@link vfio.core.shell.VfioCommands} gathers data as
 * {@link vfio.core.dto DTOs} ({@link vfio.core.shell.Snapshots}) and renders it as tables a person
 * can read ({@link vfio.core.shell.Tables}); input parsing lives in {@link vfio.core.shell.Numbers}.
 * Private to the core.
 */
package vfio.core.shell;
