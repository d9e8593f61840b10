"""Camera frames, TF and image conversion, without ROS."""
