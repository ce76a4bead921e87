int pharos_placeholder_img;
