// Lets a library folder build before it has sources of its own.
