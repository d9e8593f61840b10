"""Camera frames, TF and image conversion, without ROS.

- ``types``: Frame, CameraModel (shared data types);
- ``tf``: TfBuffer (/tf, /tf_static: interpolation, static links, clear errors);
- ``images``: one conversion for live and bag messages (image_to_rgb / _depth_m / _labels,
  camera_model_from_info);
- ``sync``: StampSynchronizer (colour-depth-camera_info matching by stamp);
- ``keyframes``: KeyframeSelector (time, translation, rotation thresholds);
- ``buffer``: FrameBuffer (bounded, thread-safe keyframe store; select() for a query window);
- ``assemble``: matched messages -> Frame with the camera pose looked up in TF.
"""
