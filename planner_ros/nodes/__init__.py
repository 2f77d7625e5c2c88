"""ROS node shells: each module is one node executable with a main()."""
