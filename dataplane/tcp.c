int pharos_placeholder_tcp;
